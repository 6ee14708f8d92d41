"""LinkedIn: the official data export first (posts and articles), public article pages second.

The feed itself sits behind a login wall, so posts come only from the export's ``Shares.csv``.
"""

from __future__ import annotations

from pathlib import Path

from twin_core.crawlers import html as h
from twin_core.crawlers import metadata as meta
from twin_core.crawlers.archives import ExportError, csv_rows, open_export
from twin_core.crawlers.common import CrawlReport, iso_date, title_from_text
from twin_core.documents import Document
from twin_core.http_fetch import HttpFetcher

# 2022+ pulse pages, then the 2016 schema.org markup.
BODY_SELECTORS = (  # (selector, a substring the page must contain for it to match)
    (".article-content__body", "article-content__body"),
    ('[itemprop="articleBody"]', "articleBody"),
    (".reader-article-content", "reader-article-content"),
)
TITLE_SELECTORS = ("h1.article-title", ".pulse-title", 'h1[itemprop="headline"]', "h1")
BYLINES = (
    ".author-info [itemprop=name], .author-info__name, [itemprop=author] [itemprop=name], "
    ".publisher-author-card .base-main-card__title, .publisher-author-card h3"
)
NOT_CONTENT = h.CHROME + ",.comments,.comments-section,.comment,.reader-comments,.social-actions,.article-main__comments"


def _wrapped(line: str) -> bool:
    return len(line) >= 2 and line[0] == '"' and line[-1] == '"'


def unwrap_lines(text: str) -> str:
    """Undo the export's per-line quoting of multi-line posts.

    LinkedIn quotes each line of a multi-line ``ShareCommentary`` with doubled quotes, so after
    CSV parsing the first line ends with ``"``, each middle line is wrapped in ``"…"`` (a blank
    line is ``""``) and the last line starts with ``"``. The same quoting with the first and the
    last line wrapped too is read as well. A post that does not follow one of these shapes in every
    line keeps its quotes.
    """
    lines = [line.rstrip("\r") for line in text.replace("\r\n", "\n").split("\n")]
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    if len(lines) > 1:
        middle = lines[1:-1]
        first, last = lines[0].rstrip(), lines[-1].lstrip()
        if all(_wrapped(line) or not line for line in middle) and first.endswith('"') and last.startswith('"'):
            if _wrapped(first) and _wrapped(last):
                first, last = first[1:], last[:-1]  # the outer lines are wrapped too
            lines = [first[:-1], *(line[1:-1] for line in middle), last[1:]]
    return "\n".join(lines).strip()


def parse_shares(csv_text: str, author: str) -> tuple[list[Document], list[str]]:
    """Posts from ``Shares.csv`` of any export year, and one line per row that was skipped."""
    rows, problems = csv_rows(csv_text)
    if rows and "sharecommentary" not in rows[0][1]:
        return [], ["no ShareCommentary column; is this LinkedIn's Shares.csv?"]
    documents = []
    for line, row in rows:
        text = unwrap_lines(row.get("sharecommentary") or "")
        link = (row.get("sharelink") or "").strip()
        if not text:
            continue  # a repost without commentary has none of the author's words
        if not link:
            problems.append(f"row at line {line} has a post but no ShareLink; skipped")
            continue
        shared = (row.get("sharedurl") or "").strip()
        documents.append(Document.create(
            platform="linkedin",
            category="post",
            author=author,
            url=link,
            title=title_from_text(text),
            content=text,
            published_at=iso_date(row.get("date")),
            extra={"source": "export", **({"shared_url": shared} if shared else {})},
        ))
    return documents, problems


def parse_export_article(html: str, author: str, fallback_url: str) -> Document:
    """An article as the export stores it: ``<h1><a href=pulse-url>``, created/published lines, body."""
    tree = h.parse(html)
    body = tree.body
    if body is None:
        raise h.ExtractionError("article file has no body")
    heading = h.css_first(body, "h1")
    link = h.css_first(heading, "a") if heading is not None else None
    url = (link.attributes.get("href") if link is not None else None) or fallback_url
    title = h.text_of(body, "h1") or h.text_of(tree, "title") or ""
    date_line = h.text_of(body, "p.published") or h.text_of(body, "p.created") or ""
    date = iso_date(date_line.removeprefix("Published on").removeprefix("Created on").strip())
    for node in h.css(body, "h1, p.created, p.published"):
        node.decompose()
    h.remove(body, h.CHROME)
    h.break_lines(body)
    text = h.join_blocks(h.blocks(body))
    if not text:
        raise h.ExtractionError("article has no text")
    return Document.create(
        platform="linkedin", category="article", author=author, url=url, title=title,
        content=text, published_at=date, extra={"source": "export"},
    )


def import_export(path: Path, author: str) -> CrawlReport:
    """Posts from ``Shares.csv`` and articles from ``Articles/``; a zip or an unpacked folder.
    Each unreadable file or row is one line in the report; the rest is still read."""
    report = CrawlReport()
    archive = open_export(path, report)
    if archive is None:
        return report
    with archive:
        shares = archive.find(lambda p: p.name.lower() == "shares.csv")
        articles = archive.find(lambda p: p.suffix.lower() == ".html" and "articles" in (s.lower() for s in p.parts[:-1]))
        if not shares and not articles:
            report.fail(str(path), "no Shares.csv or Articles/ found; is this a LinkedIn data export?")
        for name in shares:
            source = f"{path.name}/{name}"
            try:
                documents, problems = parse_shares(archive.read_text(name), author)
            except ExportError as error:
                report.fail(source, error)
                continue
            report.documents.extend(documents)
            for problem in problems:
                report.fail(source, problem)
        for name in articles:
            try:
                slug = Path(name).stem.split(" ", 1)[-1].lower()
                fallback = f"https://www.linkedin.com/pulse/{slug}"
                report.documents.append(parse_export_article(archive.read_text(name), author, fallback))
            except ValueError as error:
                report.fail(f"{path.name}/{name}", error)
        for name, note in archive.notes:
            report.fail(f"{path.name}/{name}", note)
    return report


def _article_scope(tree, body) -> object:
    """The element that holds this article's own byline: the schema.org Article around the
    body (2016), else the ``<article>`` (2022), so a sidebar's or a comment's author never wins."""
    node = body.parent
    while node is not None and node.tag != "html":
        attrs = node.attributes
        if "Article" in (attrs.get("itemtype") or "") or node.tag == "article":
            return node
        node = node.parent
    return tree.body


def extract_article(html: str | h.Page, url: str, *, author: str | None = None) -> Document:
    """A public pulse article page (2016 ``itemprop=articleBody`` or 2022 ``.article-content__body``)."""
    page = html if isinstance(html, h.Page) else h.Page(html)
    tree = page.tree
    root = next((n for s, marker in BODY_SELECTORS if marker in page.html and (n := h.css_first(tree, s)) is not None), None)
    if root is None:
        raise h.ExtractionError("no LinkedIn article body (.article-content__body / itemprop=articleBody)")
    scope = _article_scope(tree, root)
    heading = next((t for s in TITLE_SELECTORS if (t := h.text_of(scope, s))), None)
    h.remove(scope, NOT_CONTENT)  # comments go before the byline is read
    byline = h.text_of(scope, BYLINES)
    date_node = h.css_first(scope, "time[datetime], [itemprop=datePublished][datetime]")
    h.break_lines(root)
    text = h.join_blocks(h.blocks(root))
    if not text:
        raise h.ExtractionError("LinkedIn article body is empty")
    byline_author = meta.author(page, {}, [byline])
    return Document.create(
        platform="linkedin", category="article", author=author or byline_author or "unknown", url=page.canonical or url,
        title=meta.title(page, heading, {}, [byline_author or ""]), content=text,
        published_at=iso_date(meta.published(page, {}, date_node.attributes.get("datetime") if date_node is not None else None)),
        extra={"source": "page"},
    )


def crawl_article(url: str, client: HttpFetcher, *, author: str | None = None) -> Document:
    result = client.get(url)
    return extract_article(result.text, result.url, author=author)
