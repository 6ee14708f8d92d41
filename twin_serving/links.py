"""Links sent with a request: fetched through the collection pipeline's crawlers and used as
fresh knowledge in the prompt.

Every request and redirect hop passes the SSRF guard (``twin_serving.ssrf``); each link is capped
in decoded size and has one overall deadline that stops its transfer (all hops and pages of the
link included). Links are fetched on a thread pool of their own, so slow pages can never take the
threads retrieval and the rest of serving run on. A refused link is the caller's error (422); a
link that cannot be fetched is skipped with a warning, so one dead page does not cost the whole
answer.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
        url_guard=guard,
        max_bytes=max_bytes,
        timeout_s=timeout_s,
        max_retries=0,
        max_redirects=max_redirects,
        respect_robots=False,
        per_host_rate=100.0,
    )


MAX_DOCUMENTS_PER_LINK = 3
# Links in flight at once per process; more wait their turn (and their deadline runs meanwhile).
LINK_WORKERS = 16


@functools.cache
def link_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=LINK_WORKERS, thread_name_prefix="twin-links")


def _text(document) -> str:
    files = getattr(document, "files", None) or {}
    code = "\n\n".join(f"{path}:\n{body}" for path, body in list(files.items())[:5])
    return "\n\n".join(part for part in (document.content, code) if part)


def fetch_link(
    url: str, fetcher, author: str | None = None, deadline_s: float | None = None
) -> list[SourceText]:
    """Blocking: one link through the crawlers (platform-specific extractor, else generic),
    all of its requests within ``deadline_s``.

    A feed or a GitHub profile yields several documents; the first few are used.
    """
    from twin_core.crawlers import crawl_url

    if deadline_s is None:
        documents = crawl_url(url, fetcher, author=author)
    else:
        with fetcher.within(deadline_s):
            documents = crawl_url(url, fetcher, author=author)
    documents = documents[:MAX_DOCUMENTS_PER_LINK]
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
    from twin_serving.ssrf import Unresolvable

    out = FetchedLinks()
    reachable = []
    for url in urls:  # refuse before fetching anything
        try:
            guard(url)
        except Unresolvable as error:  # a dead name is a link that cannot be fetched, not a refusal
            out.warnings.append(f"link {url} skipped: {error}")
            continue
        except ValueError as error:
            raise LinkRefused(f"link {url} refused: {error}") from error
        reachable.append(url)
    urls = reachable
    if not urls:
        return out
    fetcher = _fetcher(guard, max_bytes, timeout_s, max_redirects)
    loop = asyncio.get_running_loop()
    try:

        async def one(url: str):
            work = loop.run_in_executor(link_pool(), fetch_link, url, fetcher, author, timeout_s)
            try:
                # The fetch stops itself at its deadline; this bound also covers waiting for a
                # free worker (a link still queued then is cancelled and never starts).
                return await asyncio.wait_for(work, timeout_s + 1)
            except URLRefused as error:
                if isinstance(error.__cause__, Unresolvable):
                    return f"link {url} skipped: {error.__cause__}"
                raise LinkRefused(f"link {url} refused: {error.reason}") from error
            except TimeoutError:
                return f"link {url} skipped: no answer within {timeout_s:g}s"
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
