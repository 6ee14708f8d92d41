"""LinkedIn: the official data export first (posts and articles), public article pages second.

The feed itself sits behind a login wall, so posts come only from the export's ``Shares.csv``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from twin_core.crawlers import html as h
from twin_core.crawlers.common import CrawlReport, ExportArchive, iso_date, title_from_text
from twin_core.documents import Document
from twin_core.http_fetch import HttpFetcher

# 2022+ pulse pages, then the 2016 schema.org markup.
BODY_SELECTORS = (  # (selector, a substring the page must contain for it to match)
    (".article-content__body", "article-content__body"),
    ('[itemprop="articleBody"]', "articleBody"),
    (".reader-article-content", "reader-article-content"),
)
TITLE_SELECTORS = ("h1.article-title", ".pulse-title", 'h1[itemprop="headline"]', "h1")
NOT_CONTENT = h.CHROME + ",.comments,.comments-section,.comment,.reader-comments,.social-actions,.article-main__comments"


def unwrap_lines(text: str) -> str:
    """Undo the export's quoting: each line of a multi-line post arrives wrapped in quotes."""
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if all(len(line) >= 2 and line[0] == '"' and line[-1] == '"' for line in lines if line):
        lines = [line[1:-1] for line in lines]
    return "\n".join(lines).strip()


def parse_shares(csv_text: str, author: str) -> list[Document]:
    documents = []
    for row in csv.DictReader(io.StringIO(csv_text)):
        text = unwrap_lines(row.get("ShareCommentary") or "")
        link = (row.get("ShareLink") or "").strip()
        if not text or not link:
            continue  # a repost without commentary has none of the author's words
        documents.append(Document.create(
            platform="linkedin",
            category="post",
            author=author,
            url=link,
            title=title_from_text(text),
            content=text,
            published_at=iso_date(row.get("Date")),
            extra={"source": "export", **({"shared_url": row["SharedUrl"]} if row.get("SharedUrl") else {})},
        ))
    return documents


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
    """Posts from ``Shares.csv`` and articles from ``Articles/``; a zip or an unpacked folder."""
    report = CrawlReport()
    with ExportArchive(path) as archive:
        shares = archive.find(lambda p: p.name.lower() == "shares.csv")
        articles = archive.find(lambda p: p.suffix.lower() == ".html" and "articles" in (s.lower() for s in p.parts[:-1]))
        if not shares and not articles:
            report.fail(str(path), "no Shares.csv or Articles/ found; is this a LinkedIn data export?")
        for name in shares:
            try:
                report.documents.extend(parse_shares(archive.read_text(name), author))
            except (csv.Error, ValueError) as error:
                report.fail(f"{path.name}/{name}", f"unreadable Shares.csv ({error})")
        for name in articles:
            try:
                slug = Path(name).stem.split(" ", 1)[-1].lower()
                fallback = f"https://www.linkedin.com/pulse/{slug}"
                report.documents.append(parse_export_article(archive.read_text(name), author, fallback))
            except ValueError as error:
                report.fail(f"{path.name}/{name}", error)
    return report


def extract_article(html: str, url: str, *, author: str | None = None) -> Document:
    """A public pulse article page (2016 ``itemprop=articleBody`` or 2022 ``.article-content__body``)."""
    page = h.Page(html)
    tree, article = page.tree, page.article
    root = next((n for s, marker in BODY_SELECTORS if marker in html and (n := h.css_first(tree, s)) is not None), None)
    if root is None:
        raise h.ExtractionError("no LinkedIn article body (.article-content__body / itemprop=articleBody)")
    title = article.get("headline") or next(
        (t for s in TITLE_SELECTORS if (t := h.text_of(tree, s))), None
    ) or h.page_title(page)
    byline = h.ld_author(article) or h.text_of(tree, ".author-info__name, [itemprop=author] [itemprop=name], .publisher-author-card h3")
    h.remove(root, NOT_CONTENT)
    h.break_lines(root)
    text = h.join_blocks(h.blocks(root))
    if not text:
        raise h.ExtractionError("LinkedIn article body is empty")
    return Document.create(
        platform="linkedin", category="article", author=author or byline or "unknown", url=url,
        title=title or "", content=text, published_at=iso_date(h.published(page)),
        extra={"source": "page"},
    )


def crawl_article(url: str, client: HttpFetcher, *, author: str | None = None) -> Document:
    result = client.get(url)
    return extract_article(result.text, result.url, author=author)
