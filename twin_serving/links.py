"""Links sent with a request: fetched through the collection pipeline's crawlers and used as
fresh knowledge in the prompt.

Every request and redirect hop passes the SSRF guard (``twin_serving.ssrf``); each link is capped
in size and time. A refused link is the caller's error (422); a link that cannot be fetched is
skipped with a warning, so one dead page does not cost the whole answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twin_serving.rag.prompt import SourceText


class LinkRefused(ValueError):
    """A link the SSRF guard refuses."""


@dataclass
class FetchedLinks:
    sources: list[SourceText] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _fetcher(guard: Callable[[str], None], max_bytes: int, timeout_s: float, max_redirects: int):
    from twin_core.http_fetch import HttpFetcher

    return HttpFetcher(
        url_guard=guard, max_bytes=max_bytes, timeout_s=timeout_s, max_retries=0,
        max_redirects=max_redirects, respect_robots=False, per_host_rate=100.0,
    )


MAX_DOCUMENTS_PER_LINK = 3


def _text(document) -> str:
    files = getattr(document, "files", None) or {}
    code = "\n\n".join(f"{path}:\n{body}" for path, body in list(files.items())[:5])
    return "\n\n".join(part for part in (document.content, code) if part)


def fetch_link(url: str, fetcher, author: str | None = None) -> list[SourceText]:
    """Blocking: one link through the crawlers (platform-specific extractor, else generic).

    A feed or a GitHub profile yields several documents; the first few are used.
    """
    from twin_core.crawlers import crawl_url

    documents = crawl_url(url, fetcher, author=author)[:MAX_DOCUMENTS_PER_LINK]
    return [SourceText("link", d.url, d.title, _text(d)) for d in documents]


async def fetch_links(
    urls: Sequence[str],
    guard: Callable[[str], None],
    *,
    author: str | None = None,
    max_bytes: int = 2_000_000,
    timeout_s: float = 10.0,
    max_redirects: int = 5,
) -> FetchedLinks:
    """Fetch all links concurrently. Raises ``LinkRefused`` when the guard refuses one."""
    from twin_core.http_fetch import FetchError, URLRefused

    for url in urls:  # refuse before fetching anything
        try:
            guard(url)
        except ValueError as error:
            raise LinkRefused(f"link {url} refused: {error}") from error
    out = FetchedLinks()
    if not urls:
        return out
    fetcher = _fetcher(guard, max_bytes, timeout_s, max_redirects)
    try:
        async def one(url: str):
            try:
                return await asyncio.wait_for(
                    asyncio.to_thread(fetch_link, url, fetcher, author), timeout_s * 2
                )
            except URLRefused as error:
                raise LinkRefused(f"link {url} refused: {error.reason}") from error
            except TimeoutError:
                return f"link {url} skipped: no answer within {timeout_s * 2:g}s"
            except (FetchError, ValueError) as error:
                return f"link {url} skipped: {error}"

        for result in await asyncio.gather(*(one(u) for u in urls)):
            if isinstance(result, list):
                out.sources.extend(result)
            else:
                out.warnings.append(result)
    finally:
        fetcher.close()
    return out
