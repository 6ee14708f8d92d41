"""Which platform published a page, from the page itself.

Archived copies, custom domains (a Medium publication at blog.example.com, a Substack at
www.example.com) and proxies serve platform pages from hosts that say nothing, so the host name
is only a hint. The page says what it is: its canonical URL, ``og:site_name``, the app links
(``al:ios:app_name``, ``twitter:app:name:iphone``), the JSON-LD publisher, a ``generator`` meta,
its CDN in the head, and the platform's inline state (``window.__APOLLO_STATE__`` with Medium's
product name, Substack's ``window._preloads``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twin_core.crawlers.html import Page

APP_NAMES = ("og:site_name", "al:ios:app_name", "al:android:app_name", "twitter:app:name:iphone", "generator", "application-name")


def host_platform(url: str) -> str | None:
    host = (urlsplit(url).hostname or "").lower()
    if host == "linkedin.com" or host.endswith(".linkedin.com"):
        return "linkedin"
    if host == "medium.com" or host.endswith(".medium.com"):
        return "medium"
    if host == "substack.com" or host.endswith(".substack.com"):
        return "substack"
    if host in {"github.com", "www.github.com"}:
        return "github"
    return None


def _head(html: str) -> str:
    end = html.find("<body")
    return html[:end] if end > 0 else html[:65536]


def page_platform(page: Page) -> str | None:
    """``medium``, ``substack`` or ``linkedin`` when the page names one of them, else ``None``."""
    names = {page.metas.get(key, "").strip().lower() for key in APP_NAMES}
    names.discard("")
    publisher = page.article.get("publisher") if "application/ld+json" in page.html else None
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        names.add(publisher["name"].strip().lower())
    canonical = host_platform(page.canonical or page.metas.get("og:url") or "")
    html = page.html
    if "medium" in names or canonical == "medium" or '"productName":"Medium"' in html or 'window["obvInit"]' in html:
        return "medium"
    if "linkedin" in names or canonical == "linkedin":
        return "linkedin"
    head = _head(html)
    if (canonical == "substack" or "substack" in names or "window._preloads" in html
            or "substackcdn.com" in head or "cdn.substack.com" in head):
        return "substack"
    return None
