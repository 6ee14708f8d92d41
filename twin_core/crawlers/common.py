"""Small helpers shared by the crawlers: dates, titles, crawl reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from twin_core.documents import Document

T = TypeVar("T")


@dataclass
class CrawlReport:
    """What one crawl produced: documents, and every source that failed with its reason."""

    documents: list[Document] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source, one-line reason)

    def extend(self, other: CrawlReport) -> None:
        self.documents.extend(other.documents)
        self.failures.extend(other.failures)

    def fail(self, source: str, error: BaseException | str) -> None:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        prefix = f"{source}: "
        self.failures.append((source, reason.removeprefix(prefix)))


def iso_date(value: str | None) -> str | None:
    """ISO 8601 (UTC when no zone is given) from ISO, RFC 822 or 'YYYY-MM-DD HH:MM:SS' input."""
    if not value or not value.strip():
        return None
    value = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="seconds")


def title_from_text(text: str, limit: int = 90) -> str:
    """A post has no title: use its first line, cut at a word boundary."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + "…"


def run_each(items: Iterable[T], func: Callable[[T], CrawlReport], workers: int = 4) -> CrawlReport:
    """Run ``func`` on each item in threads (the HTTP client enforces per-host limits);
    results keep input order so runs are deterministic."""
    report = CrawlReport()
    items = list(items)
    if not items:
        return report
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        for part in pool.map(func, items):
            report.extend(part)
    return report
