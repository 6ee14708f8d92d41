"""Crawlers: one module per source, pure extraction functions plus crawl functions.

``crawl_url`` is the single entry for one link (``twin crawl URL`` and the serving API): it picks
the extractor from the URL, and for unknown hosts from the page itself (a Substack on a custom
domain, a feed).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twin_core.crawlers import github, linkedin, medium, substack, web
from twin_core.crawlers.common import CrawlReport
from twin_core.crawlers.feeds import feed_documents
from twin_core.crawlers.html import ExtractionError
from twin_core.documents import Document
from twin_core.http_fetch import FetchError, HttpFetcher

__all__ = ["CrawlReport", "ExtractionError", "FetchError", "crawl_url", "platform_of"]


def platform_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if host == "linkedin.com" or host.endswith(".linkedin.com"):
        return "linkedin"
    if host == "medium.com" or host.endswith(".medium.com"):
        return "medium"
    if host.endswith(".substack.com") or host == "substack.com":
        return "substack"
    if host in {"github.com", "www.github.com"}:
        return "github"
    return "web"


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
        if len(parts) == 1:
            report = github.crawl_user(parts[0], client, author=author or parts[0], token=github_token)
            if not report.documents and report.failures:
                raise ExtractionError(report.failures[0][1])
            return report.documents
        return [github.crawl_repository_url(url, client, author=author or parts[0], token=github_token)]

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
    if platform == "linkedin":
        return [linkedin.extract_article(result.text, result.url, author=author)]
    if platform == "medium" or (platform == "web" and 'content="Medium"' in result.text[:20000]):
        return [medium.extract_article(result.text, result.url, author=author)]
    if platform == "substack" or substack.is_substack_page(result.text):
        return [substack.extract_post(result.text, result.url, author=author)]
    return [web.extract_article(result.text, result.url, author=author)]
