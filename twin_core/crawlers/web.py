"""Any other article URL: title, author and date from JSON-LD/meta, main text by structure."""

from __future__ import annotations

from twin_core.crawlers import html as h
from twin_core.crawlers.common import iso_date
from twin_core.documents import Document
from twin_core.http_fetch import HttpFetcher

# Where the main text usually is, most specific first.
MAIN = (
    '[itemprop="articleBody"]',
    "article .entry-content", "article .post-content", ".entry-content", ".post-content",
    ".article-body", ".article-content", "article", "main", '[role="main"]', "#content", "body",
)
BOILERPLATE = (
    h.CHROME + ",header,footer,.comments,#comments,.comment,.share,.sharing,.related,"
    ".newsletter,.subscribe,.advert,.ad,.cookie,.byline,.author-bio"
)


def extract_article(html: str, url: str, *, author: str | None = None, platform: str = "web") -> Document:
    page = h.Page(html)
    tree, article = page.tree, page.article
    title = h.page_title(page)
    byline = h.ld_author(article) or page.meta("author", "article:author")
    date = iso_date(h.published(page))
    body = tree.body
    if body is None:
        raise h.ExtractionError("page has no body")
    h.remove(body, BOILERPLATE)
    h.break_lines(body)
    text = ""
    for selector in MAIN:
        root = body if selector == "body" else h.css_first(body, selector)
        if root is not None:
            parts = h.blocks(root)
            if parts and title and parts[0] == title:
                parts = parts[1:]
            text = h.join_blocks(parts)
            if text:
                break
    if not text:
        raise h.ExtractionError("no article text found")
    return Document.create(
        platform=platform,
        category="article",
        author=author or byline or "unknown",
        url=url,
        title=title or "",
        content=text,
        published_at=date,
        extra={"source": "page", "byline": byline} if byline else {"source": "page"},
    )


def crawl_article(url: str, client: HttpFetcher, *, author: str | None = None) -> Document:
    result = client.get(url)
    return extract_article(result.text, result.url, author=author)
