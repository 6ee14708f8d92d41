"""Medium: RSS feed first (full ``content:encoded``), account export, then article pages.

Article pages come in three markup generations: 2015-17 semantic ``graf`` classes inside
``postArticle-content``; 2019-21 hashed atomic classes (so we select by structure: body blocks
carry Medium's short ``id``s, page chrome does not); 2022+ ``pw-post-title`` and
``pw-post-body-paragraph``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from twin_core.crawlers import feeds
from twin_core.crawlers import html as h
from twin_core.crawlers import metadata as meta
from twin_core.crawlers.archives import open_export
from twin_core.crawlers.common import CrawlReport, iso_date
from twin_core.documents import Document
from twin_core.http_fetch import HttpFetcher

# Labels Medium puts between or above paragraphs; never the author's words.
LABELS = frozenset({"Top highlight", "Member-only story", "--", "Listen", "Share", "Follow", "·"})
STRUCTURAL = "h1[id],h2[id],h3[id],h4[id],p[id],pre,blockquote[id],li[id],.pw-post-body-paragraph"
# The subtitle under the title (a dek, not the body) and the byline/label rows of 2019+ pages.
NOT_BODY = h.CHROME + ",.pw-subtitle-paragraph,.speechify-ignore,[data-testid=storyTitle]"
BYLINES = "[data-testid=authorName], .postMetaInline-authorLockup a, a[rel*=author]"
# The notice Medium adds under a story imported from elsewhere: where it first ran, not the voice.
CROSS_POST = re.compile(r"^Originally published at .{1,200} on [A-Z][a-z]+ \d{1,2}, \d{4}\.?$")
# An export's post file: ``2015-04-22_Title-Words-18504ab0fd0.html`` (date, slug, post id).
EXPORT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})_.*?-?([0-9a-f]{10,12})\.html$")


def _body_text(root, title: str | None) -> str:
    h.remove(root, h.CHROME)
    h.break_lines(root)
    parts = h.blocks(root, skip_texts=LABELS)
    if parts and title and parts[0] == title:
        parts = parts[1:]
    if parts and CROSS_POST.match(parts[-1]):
        parts = parts[:-1]
    return h.join_blocks(parts)


def extract_article(html: str | h.Page, url: str, *, author: str | None = None) -> Document:
    page = html if isinstance(html, h.Page) else h.Page(html)
    tree = page.tree
    legacy = h.css_first(tree, ".postArticle-content") if "postArticle-content" in page.html else None
    state = meta.medium_post(page)
    if legacy is not None:
        generation = "2015"
        heading = h.text_of(legacy, ".graf--title")
        byline = h.text_of(tree, ".postMetaHeader .ds-link, .postMetaInline-authorLockup a")
        for figure in h.css(legacy, "figure"):
            figure.decompose()
        h.break_lines(legacy)
        parts = h.blocks(legacy, nodes=h.css(legacy, ".graf"), skip_texts=LABELS)
    else:
        root = h.css_first(tree, "article") or tree.body
        if root is None:
            raise h.ExtractionError("page has no body")
        generation = "2022" if "pw-post-" in page.html else "2019"
        node = (h.css_first(root, ".pw-post-title, h1[data-testid=storyTitle]") if generation == "2022" else None) or h.css_first(root, "h1")
        heading = h.clean_inline(node.text(separator="")) if node is not None else None
        byline = h.text_of(root, BYLINES)
        h.remove(root, NOT_BODY)
        h.break_lines(root)
        parts = h.blocks(root, nodes=h.css(root, STRUCTURAL), skip_texts=LABELS)
    byline_author = meta.author(page, state, [byline])
    title = meta.title(page, heading, state, [byline_author or ""])
    if parts and parts[0] == title:
        parts = parts[1:]
    text = h.join_blocks(parts)
    if not text:
        raise h.ExtractionError("no Medium article text found")
    member_only = "Member-only story" in page.html
    return Document.create(
        platform="medium", category="article", author=author or byline_author or "unknown",
        url=page.canonical or page.meta("og:url") or url, title=title, content=text,
        published_at=iso_date(meta.published(page, state)),
        extra={"source": "page", "markup": generation, **({"member_only": True} if member_only else {})},
    )


def feed_documents(xml: str | bytes, *, author: str) -> CrawlReport:
    return feeds.feed_documents(xml, platform="medium", author=author)


def crawl_feed(feed_url: str, client: HttpFetcher, *, author: str) -> CrawlReport:
    report = CrawlReport()
    try:
        report.extend(feed_documents(client.get(feed_url).content, author=author))
    except ValueError as error:  # FetchError is not a ValueError; it propagates to the caller
        report.fail(feed_url, error)
    return report


def parse_export_post(html: str, author: str, name: str = "") -> Document | None:
    """One ``posts/*.html`` file of Medium's export (``name``: its file name); ``None`` for
    drafts (never published). Where the footer lacks its date or canonical link, a published
    post's file name still gives both: its date and its post id."""
    tree = h.parse(html)
    time_node = h.css_first(tree, "time.dt-published")
    link = h.css_first(tree, "a.p-canonical")
    named = EXPORT_NAME.match(PurePosixPath(name).name)
    url = link.attributes.get("href") if link is not None else None
    published = time_node.attributes.get("datetime") if time_node is not None else None
    if named:
        url = url or f"https://medium.com/p/{named.group(2)}"
        published = published or named.group(1)
    if not url or not published:
        return None
    title = h.text_of(tree, "h1.p-name") or h.text_of(tree, "title") or ""
    body = h.css_first(tree, 'section[data-field="body"]')
    if body is None:
        raise h.ExtractionError("export post has no body section")
    text = _body_text(body, title)
    if not text:
        raise h.ExtractionError("export post is empty")
    return Document.create(
        platform="medium", category="article", author=author, url=url,
        title=title, content=text, published_at=iso_date(published),
        extra={"source": "export"},
    )


def import_export(path: Path, author: str) -> CrawlReport:
    report = CrawlReport()
    archive = open_export(path, report)
    if archive is None:
        return report
    with archive:
        posts = archive.find(lambda p: p.suffix == ".html" and "posts" in p.parts[:-1] and not p.name.startswith("draft_"))
        if not posts:
            report.fail(str(path), "no posts/*.html found; is this a Medium export?")
        for name in posts:
            try:
                document = parse_export_post(archive.read_text(name), author, name)
            except ValueError as error:
                report.fail(f"{path.name}/{name}", error)
                continue
            if document is not None:
                report.documents.append(document)
        for name, note in archive.notes:
            report.fail(f"{path.name}/{name}", note)
    return report


def crawl_article(url: str, client: HttpFetcher, *, author: str | None = None) -> Document:
    result = client.get(url)
    return extract_article(result.text, result.url, author=author)
