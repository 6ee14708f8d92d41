"""Collect one platform's documents for every author in the profiles, then store them.

Pure orchestration over the crawlers (no Dagster): the collection assets call ``collect`` and
``store``. Every source is tried; a failing source is reported with its reason and never stops
the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from twin_core.crawlers import github, github_api, linkedin, medium, substack, web
from twin_core.crawlers.common import CrawlReport, run_each
from twin_core.crawlers.html import ExtractionError
from twin_core.documents import Document, document_id
from twin_core.http_fetch import FetchError, HttpFetcher
from twin_core.profiles import Author, Profiles
from twin_core.warehouse import DocumentWarehouse

logger = logging.getLogger(__name__)
PLATFORMS = ("linkedin", "medium", "substack", "github", "web")
ERRORS = (FetchError, ValueError, OSError)  # ExtractionError is a ValueError


@dataclass
class StoreCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    duplicates: int = 0
    superseded: int = 0  # stored records replaced by one with the current identity
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (change, id, title)


def _guard(report: CrawlReport, source: str, func, *args, **kwargs) -> None:
    try:
        result = func(*args, **kwargs)
    except ERRORS as error:
        report.fail(source, error)
        return
    except Exception as error:  # a crawler bug on strange input must not cost the other sources
        logger.exception("unexpected error while collecting %s", source)
        report.fail(source, f"could not be read: an unexpected {type(error).__name__} in the crawler (details in the run log); the other sources were collected")
        return
    if isinstance(result, CrawlReport):
        report.extend(result)
    elif isinstance(result, Document):
        report.documents.append(result)
    else:
        report.documents.extend(result)


def _urls(client: HttpFetcher, urls: Iterable[str], crawl, author: str) -> CrawlReport:
    def one(url: str) -> CrawlReport:
        part = CrawlReport()
        _guard(part, url, crawl, url, client, author=author)
        return part

    return run_each(urls, one)


def collect_author(
    platform: str,
    author: Author,
    base_dir: Path,
    client: HttpFetcher,
    *,
    github_token: str | None = None,
    github_api_url: str = github_api.API_URL,
) -> CrawlReport:
    """Exports first (the most stable channel), then APIs and feeds, then single pages."""
    report = CrawlReport()
    source = getattr(author, platform)
    if source is None:
        return report
    name = author.name
    exports = source.export_paths(base_dir)
    if platform == "linkedin":
        for path in exports:
            _guard(report, str(path), linkedin.import_export, path, name)
        report.extend(_urls(client, source.articles, linkedin.crawl_article, name))
    elif platform == "medium":
        for path in exports:
            _guard(report, str(path), medium.import_export, path, name)
        for feed in source.feed_urls():
            _guard(report, feed, medium.crawl_feed, feed, client, author=name)
        report.extend(_urls(client, source.articles, medium.crawl_article, name))
    elif platform == "substack":
        for path in exports:
            _guard(report, str(path), substack.import_export, path, source.url, name)
        if source.url and source.crawl:
            _guard(report, source.url, substack.crawl_publication, source.url, client, author=name)
        report.extend(_urls(client, source.articles, _substack_url, name))
    elif platform == "github":
        limits = github.Limits(paths=tuple(source.paths))
        api = github_api.GitHubAPI(client, token=github_token, api_url=github_api_url)  # one rate budget
        for repo in source.repositories:
            if "://" in repo:
                _guard(report, repo, github_api.crawl_repository_url, api, repo, author=name, limits=limits)
            else:
                path = (base_dir / repo).resolve()
                _guard(report, str(path), github.crawl_local, path, author=name, limits=limits)
        if source.user:
            _guard(report, f"github user {source.user}", github_api.crawl_user, api, source.user,
                   author=name, limits=limits)
    elif platform == "web":
        report.extend(_urls(client, source.articles, web.crawl_article, name))
    else:
        raise ValueError(f"unknown platform {platform!r}")
    return report


def _substack_url(url: str, client: HttpFetcher, *, author: str) -> Document:
    page = client.get(url)
    return substack.extract_post(page.text, page.url, author=author)


def collect(platform: str, profiles: Profiles, client: HttpFetcher, **kwargs) -> CrawlReport:
    report = CrawlReport()
    for author in profiles.authors:
        report.extend(collect_author(platform, author, profiles.base_dir, client, **kwargs))
    return report


def dedupe(documents: Iterable[Document]) -> tuple[list[Document], int]:
    """One document per id, the first seen winning: channels run in priority order (export,
    then API/feed, then page), so a post found twice is stored once and runs stay stable."""
    seen: dict[str, Document] = {}
    duplicates = 0
    for document in documents:
        if document.id in seen:
            duplicates += 1
            continue
        seen[document.id] = document
    return list(seen.values()), duplicates


def store(warehouse: DocumentWarehouse, documents: Iterable[Document]) -> StoreCounts:
    unique, duplicates = dedupe(documents)
    counts = StoreCounts(duplicates=duplicates)
    for document in unique:
        change = warehouse.upsert(document)
        setattr(counts, change, getattr(counts, change) + 1)
        if change != "unchanged":
            counts.changes.append((change, document.id, document.title))
    counts.superseded = remove_superseded(warehouse, unique)
    return counts


def remove_superseded(warehouse: DocumentWarehouse, documents: list[Document]) -> int:
    """Delete stored records that are one of ``documents`` under an older id (stored before
    identity stopped depending on the URL), so the post is kept once; downstream stages drop
    the removed record's cleaned version and chunks."""
    current = {d.id for d in documents}
    removed = 0
    for platform in sorted({d.platform for d in documents}):
        for stored in list(warehouse.documents(platform)):
            if stored.id not in current and document_id(stored.platform, stored.url, stored.author) in current:
                warehouse.delete(stored.id, stored.platform)
                removed += 1
    return removed


__all__ = ["ExtractionError", "StoreCounts", "collect", "collect_author", "dedupe", "store"]
