"""Crawlers: one module per source, pure extraction functions plus crawl functions.

``crawl_url`` is the single entry for one link (``twin crawl URL`` and the serving API): GitHub
and LinkedIn feed URLs by their host; anything else is fetched and read by what it is (a feed,
or a page whose own markup names its platform, on whatever host it is served from).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twin_core.crawlers import github_api, linkedin, medium, substack, web
from twin_core.crawlers.common import CrawlReport
from twin_core.crawlers.detect import host_platform, page_platform
from twin_core.crawlers.feeds import feed_documents
from twin_core.crawlers.html import ExtractionError, Page
from twin_core.documents import Document
from twin_core.http_fetch import FetchError, HttpFetcher

__all__ = ["CrawlReport", "ExtractionError", "FetchError", "crawl_url", "extract_page", "platform_of"]


def platform_of(url: str) -> str:
    """The platform a URL's host belongs to (``web`` for any other host); only a hint for pages,
    which are recognised from their own content (``extract_page``)."""
    return host_platform(url) or "web"


def extract_page(html: str, url: str, *, author: str | None = None, hint: str | None = None) -> Document:
    """The document of an article page from any host: the page says which platform it is;
    ``hint`` (the host's platform) is used only when the page does not. A page whose platform
    extractor finds no body is read by the generic extractor."""
    page = Page(html)
    platform = page_platform(page) or (hint if hint in EXTRACTORS else None)
    if platform is not None:
        try:
            return EXTRACTORS[platform](page, url, author=author)
        except ExtractionError:
            page = Page(html)  # the platform extractor may have removed nodes
    return web.extract_article(page, url, author=author)


EXTRACTORS = {"medium": medium.extract_article, "substack": substack.extract_post, "linkedin": linkedin.extract_article}


def _looks_like_feed(content_type: str, text: str) -> bool:
    head = text.lstrip()[:300]
    return "xml" in content_type or head.startswith("<?xml") or head.startswith("<rss") or "<feed" in head[:100]


def crawl_url(url: str, client: HttpFetcher, *, author: str | None = None, github_token: str | None = None) -> list[Document]:
    """The document(s) behind one link; raises ``FetchError`` or ``ExtractionError`` (one line)."""
    platform = platform_of(url)
    path = urlsplit(url).path
    if platform == "linkedin" and "/pulse/" not in path:
        raise ExtractionError(
            "LinkedIn posts sit behind a login wall; use your LinkedIn data export (Shares.csv) instead"
        )
    if platform == "github":
        parts = [p for p in path.split("/") if p]
        api = github_api.GitHubAPI(client, token=github_token)
        if len(parts) == 1:
            report = github_api.crawl_user(api, parts[0], author=author or parts[0])
            if not report.documents and report.failures:
                raise ExtractionError(report.failures[0][1])
            return report.documents
        return [github_api.crawl_repository_url(api, url, author=author or parts[0])]

    result = client.get(url)
    content_type = result.headers.get("content-type", "")
    if _looks_like_feed(content_type, result.text):
        if platform == "web" and "substack" in result.text[:5000]:
            platform = "substack"
        if platform not in {"medium", "substack"}:
            platform = "web"
        report = feed_documents(result.content, platform=platform, author=author or "unknown")
        if not report.documents:
            raise ExtractionError("feed has no entries with content")
        return report.documents
    return [extract_page(result.text, result.url, author=author, hint=platform)]
