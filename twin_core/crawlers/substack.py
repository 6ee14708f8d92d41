"""Substack: archive API + post API first, RSS ``/feed`` as fallback, post pages for single URLs,
and the account export. Works for custom domains: every call is relative to the publication URL.

Bodies are ``div.available-content > div.body.markup`` (2022+) or a bare ``div.body.markup``
(2020). Embedded tweets, other posts and subscribe widgets are not the author's words. A paywall
on the comments is not a paywall on the body; a paywalled body keeps its free part and the
document is marked ``truncated``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit

from twin_core.crawlers import feeds
from twin_core.crawlers import html as h
from twin_core.crawlers import metadata as meta
from twin_core.crawlers.archives import ExportError, csv_rows, open_export
from twin_core.crawlers.common import CrawlReport, iso_date, run_each
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


BYLINES = ".byline-wrapper a[href*='/@'], .post-header .post-meta a, .post-header .author a, a.frontend-pencraft-Text-module__decoration-hover-underline"


def extract_post(html: str | h.Page, url: str, *, author: str | None = None) -> Document:
    page = html if isinstance(html, h.Page) else h.Page(html)
    tree = page.tree
    available = h.css_first(tree, "div.available-content") if "available-content" in page.html else None
    body = h.css_first(available, "div.body.markup") if available is not None else None
    generation = "2022"
    if body is None:
        body = h.css_first(tree, "div.body.markup")
        generation = "2020"
    if body is None:
        raise h.ExtractionError("no Substack post body (div.body.markup)")
    truncated = False
    paywalls = h.css(tree, ".paywall, [data-testid=paywall]") if "paywall" in page.html else []
    if paywalls:  # only then look for comment areas: a paywall there does not truncate the body
        comment_areas = {node.mem_id for node in h.css(tree, COMMENT_AREAS)}
        truncated = any(not _inside(node, comment_areas) for node in paywalls)
    state = meta.substack_post(page)
    byline = h.text_of(tree, BYLINES)
    heading = h.text_of(tree, "h1.post-title")
    text = _text(body)
    if not text:
        raise h.ExtractionError("Substack post body is empty")
    byline_author = meta.author(page, state, [byline])
    extra = {"source": "page", "markup": generation}
    if truncated:
        extra["truncated"] = True
    return Document.create(
        platform="substack", category="article", author=author or byline_author or "unknown",
        url=page.canonical or page.meta("og:url") or url, title=meta.title(page, heading, state, [byline_author or ""]),
        content=text, published_at=iso_date(meta.published(page, state)), extra=extra,
    )


def _inside(node, ancestors: set[int]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ancestors:
            return True
        parent = parent.parent
    return False


def post_from_api(data: object, base_url: str, *, author: str) -> Document:
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "no post object"
        raise h.ExtractionError(f"post API answered with {kind} instead of a post")
    html = data.get("body_html") or ""
    if not isinstance(html, str):
        raise h.ExtractionError("post API answered with a body that is not HTML text")
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
    seen: set[str] = set()
    for page in range(max_pages):
        query = urlencode({"sort": "new", "offset": page * PAGE_SIZE, "limit": PAGE_SIZE})
        data, result = client.get_json(f"{base_url}/api/v1/archive?{query}", robots=False)
        if not isinstance(data, list):
            raise FetchError(result.url, "archive API did not return a list")
        fresh = [item for item in data if isinstance(item, dict) and isinstance(item.get("slug"), str) and item["slug"] not in seen]
        if not fresh:  # the end, or a server that ignores the offset: never loop on one page
            break
        seen.update(item["slug"] for item in fresh)
        posts.extend(fresh)
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
    """``posts.csv`` (metadata) + ``posts/<post_id>.html`` (bodies); drafts are skipped. Each
    unreadable file or row is one line in the report; the rest is still read."""
    report = CrawlReport()
    base_url = base_url.rstrip("/")
    archive = open_export(path, report)
    if archive is None:
        return report
    with archive:
        index = archive.find(lambda p: p.name == "posts.csv")
        if not index:
            report.fail(str(path), "no posts.csv found; is this a Substack export?")
            return report
        prefix = index[0][: -len("posts.csv")]
        bodies = set(archive.names())
        source = f"{path.name}/{index[0]}"
        try:
            rows, problems = csv_rows(archive.read_text(index[0]))
        except ExportError as error:
            report.fail(source, error)
            return report
        for problem in problems:
            report.fail(source, problem)
        for _line, row in rows:
            post_id = (row.get("postid") or "").strip()
            if (row.get("ispublished") or "").lower() != "true" or "." not in post_id:
                continue
            name = f"{prefix}posts/{post_id}.html"
            if name not in bodies:
                report.fail(f"{path.name}/{name}", "listed in posts.csv but the body file is missing")
                continue
            try:
                text = body_text(archive.read_text(name))
            except ExportError as error:
                report.fail(f"{path.name}/{name}", error)
                continue
            if not text:
                report.fail(f"{path.name}/{name}", "post body is empty")
                continue
            slug = post_id.split(".", 1)[1]
            report.documents.append(Document.create(
                platform="substack", category="article", author=author, url=f"{base_url}/p/{slug}",
                title=row.get("title") or slug, content=text, published_at=iso_date(row.get("postdate")),
                extra={"source": "export"},
            ))
        for name, note in archive.notes:
            report.fail(f"{path.name}/{name}", note)
    return report


def publication_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
