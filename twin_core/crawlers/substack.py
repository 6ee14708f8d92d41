"""Substack: archive API + post API first, RSS ``/feed`` as fallback, post pages for single URLs,
and the account export. Works for custom domains: every call is relative to the publication URL.

Bodies are ``div.available-content > div.body.markup`` (2022+) or a bare ``div.body.markup``
(2020). Embedded tweets, other posts and subscribe widgets are not the author's words. A paywall
on the comments is not a paywall on the body; a paywalled body keeps its free part and the
document is marked ``truncated``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from twin_core.crawlers import feeds
from twin_core.crawlers import html as h
from twin_core.crawlers.common import CrawlReport, ExportArchive, iso_date, run_each
from twin_core.documents import Document
from twin_core.http_fetch import FetchError, HttpFetcher

NOT_AUTHOR = (
    h.CHROME + ",.tweet,.twitter-embed,.embedded-post-wrap,.embedded-publication-wrap,"
    ".subscription-widget-wrap,.subscription-widget-wrap-editor,.subscribe-widget,.button-wrapper,"
    ".captioned-button-wrap,.paywall,.paywall-jump,.instagram,.youtube-wrap,.poll-embed,.footnote-anchor"
)
COMMENT_AREAS = "#discussion,.comments-page,.comments-section,.post-footer,.comments"
PAID = frozenset({"only_paid", "founding"})
PAGE_SIZE = 12


def body_text(html_fragment: str) -> str:
    return h.fragment_text(html_fragment, NOT_AUTHOR)


def _text(root) -> str:
    h.remove(root, NOT_AUTHOR)
    h.break_lines(root)
    return h.join_blocks(h.blocks(root))


def is_substack_page(html: str) -> bool:
    return "substackcdn.com" in html or 'class="body markup"' in html or "substack.com/" in html[:20000]


def extract_post(html: str, url: str, *, author: str | None = None) -> Document:
    page = h.Page(html)
    tree, article = page.tree, page.article
    available = h.css_first(tree, "div.available-content") if "available-content" in html else None
    body = h.css_first(available, "div.body.markup") if available is not None else None
    generation = "2022"
    if body is None:
        body = h.css_first(tree, "div.body.markup")
        generation = "2020"
    if body is None:
        raise h.ExtractionError("no Substack post body (div.body.markup)")
    truncated = False
    paywalls = h.css(tree, ".paywall, [data-testid=paywall]") if "paywall" in html else []
    if paywalls:  # only then look for comment areas: a paywall there does not truncate the body
        comment_areas = {node.mem_id for node in h.css(tree, COMMENT_AREAS)}
        truncated = any(not _inside(node, comment_areas) for node in paywalls)
    text = _text(body)
    if not text:
        raise h.ExtractionError("Substack post body is empty")
    title = h.text_of(tree, "h1.post-title") or article.get("headline") or h.page_title(page) or ""
    extra = {"source": "page", "markup": generation}
    if truncated:
        extra["truncated"] = True
    return Document.create(
        platform="substack", category="article",
        author=author or h.ld_author(article) or page.meta("author") or "unknown",
        url=page.meta("og:url") or url, title=title, content=text,
        published_at=iso_date(h.published(page)), extra=extra,
    )


def _inside(node, ancestors: set[int]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ancestors:
            return True
        parent = parent.parent
    return False


def post_from_api(data: dict, base_url: str, *, author: str) -> Document:
    html = data.get("body_html") or ""
    text = body_text(html) if html else ""
    if not text:
        raise h.ExtractionError("post API returned no body")
    extra = {"source": "api"}
    if data.get("audience") in PAID:
        extra["truncated"] = True  # anonymous readers get the free part only
    slug = data.get("slug") or ""
    return Document.create(
        platform="substack", category="article", author=author,
        url=data.get("canonical_url") or f"{base_url}/p/{slug}", title=data.get("title") or "",
        content=text, published_at=iso_date(data.get("post_date")), extra=extra,
    )


def archive(base_url: str, client: HttpFetcher, *, max_pages: int = 100) -> list[dict]:
    """Every post listed by ``/api/v1/archive``, page by page until an empty page."""
    posts: list[dict] = []
    for page in range(max_pages):
        query = urlencode({"sort": "new", "offset": page * PAGE_SIZE, "limit": PAGE_SIZE})
        data, result = client.get_json(f"{base_url}/api/v1/archive?{query}", robots=False)
        if not isinstance(data, list):
            raise FetchError(result.url, "archive API did not return a list")
        if not data:
            break
        posts.extend(item for item in data if isinstance(item, dict) and item.get("slug"))
    return posts


def crawl_post(base_url: str, slug: str, client: HttpFetcher, *, author: str) -> Document:
    """Post API first; the post page if the API fails."""
    try:
        data, _ = client.get_json(f"{base_url}/api/v1/posts/{slug}", robots=False)
        return post_from_api(data, base_url, author=author)
    except (FetchError, ValueError) as api_error:
        try:
            page = client.get(f"{base_url}/p/{slug}")
        except FetchError as page_error:
            raise FetchError(f"{base_url}/p/{slug}", f"post API failed ({api_error.args[0]}); page failed ({page_error.reason})") from None
        return extract_post(page.text, page.url, author=author)


def crawl_publication(base_url: str, client: HttpFetcher, *, author: str) -> CrawlReport:
    base_url = base_url.rstrip("/")
    report = CrawlReport()
    try:
        posts = archive(base_url, client)
    except (FetchError, ValueError) as error:
        feed = crawl_feed(f"{base_url}/feed", client, author=author)
        if feed.documents or not feed.failures:
            return feed
        report.fail(base_url, f"archive API failed ({error}); feed failed ({feed.failures[0][1]})")
        return report

    def one(post: dict) -> CrawlReport:
        part = CrawlReport()
        if post.get("type") in {"thread", "podcast"} and not post.get("body_html"):
            return part
        try:
            part.documents.append(crawl_post(base_url, post["slug"], client, author=author))
        except (FetchError, ValueError) as error:
            part.fail(f"{base_url}/p/{post['slug']}", error)
        return part

    report.extend(run_each(posts, one))
    return report


def crawl_feed(feed_url: str, client: HttpFetcher, *, author: str) -> CrawlReport:
    report = CrawlReport()
    try:
        report.extend(feeds.feed_documents(client.get(feed_url).content, platform="substack", author=author, drop=NOT_AUTHOR))
    except (FetchError, ValueError) as error:
        report.fail(feed_url, error)
    return report


def import_export(path: Path, base_url: str, author: str) -> CrawlReport:
    """``posts.csv`` (metadata) + ``posts/<post_id>.html`` (bodies); drafts are skipped."""
    report = CrawlReport()
    base_url = base_url.rstrip("/")
    with ExportArchive(path) as archive:
        index = archive.find(lambda p: p.name == "posts.csv")
        if not index:
            report.fail(str(path), "no posts.csv found; is this a Substack export?")
            return report
        prefix = index[0][: -len("posts.csv")]
        bodies = set(archive.names())
        for row in csv.DictReader(io.StringIO(archive.read_text(index[0]))):
            post_id = (row.get("post_id") or "").strip()
            if (row.get("is_published") or "").lower() != "true" or "." not in post_id:
                continue
            name = f"{prefix}posts/{post_id}.html"
            if name not in bodies:
                report.fail(f"{path.name}/{name}", "listed in posts.csv but the body file is missing")
                continue
            text = body_text(archive.read_text(name))
            if not text:
                report.fail(f"{path.name}/{name}", "post body is empty")
                continue
            slug = post_id.split(".", 1)[1]
            report.documents.append(Document.create(
                platform="substack", category="article", author=author, url=f"{base_url}/p/{slug}",
                title=row.get("title") or slug, content=text, published_at=iso_date(row.get("post_date")),
                extra={"source": "export"},
            ))
    return report


def publication_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
