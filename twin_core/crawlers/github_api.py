"""GitHub's REST API: a user's non-fork repositories, each read from one archive download.

Unauthenticated clients get 60 requests an hour, so a repository costs one request (its tarball,
``/repos/{owner}/{repo}/tarball/{ref}``) whatever its size, and the filters of ``github`` run on
the archive locally. Repository lists are conditional requests (ETag; a 304 does not count
against the limit). The remaining budget is read from every answer's ``X-RateLimit-*`` headers:
when it is spent, or GitHub answers 403/429 (its secondary limits), the crawl stops at once and
says when to retry, instead of spending requests that can only fail.
"""

from __future__ import annotations

import io
import re
import tarfile
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from twin_core.crawlers.common import CrawlReport, run_each
from twin_core.crawlers.github import (
    DEFAULT_LIMITS,
    FileBudget,
    Limits,
    repository_document,
    wanted,
)
from twin_core.crawlers.html import ExtractionError
from twin_core.documents import Document
from twin_core.http_fetch import FetchError, FetchResult, HttpFetcher

API_URL = "https://api.github.com"
MAX_PAGES = 50  # 5,000 repositories at 100 a page
# A repository archive is scanned member by member; past these the rest is left unread.
MAX_ARCHIVE_MEMBERS = 100_000
MAX_ARCHIVE_INFLATED = 512 * 1024 * 1024


class RateLimited(FetchError):
    """GitHub's request budget is spent (or it asked us to slow down): stop, do not retry."""


@dataclass
class RateBudget:
    """What GitHub's last answer said about the remaining requests; shared by all threads."""

    remaining: int | None = None
    limit: int | None = None
    reset: float | None = None  # epoch seconds

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def update(self, headers: Any) -> None:
        """Answers arrive out of order across threads: within one window the lowest count is
        the truth; a new reset time starts a new window."""
        remaining, limit, reset = (headers.get(f"x-ratelimit-{k}", "") for k in ("remaining", "limit", "reset"))
        with self._lock:
            if limit.isdigit():
                self.limit = int(limit)
            new_window = reset.isdigit() and (self.reset is None or float(reset) > self.reset)
            if new_window:
                self.reset = float(reset)
            if remaining.isdigit():
                count = int(remaining)
                self.remaining = count if new_window or self.remaining is None else min(self.remaining, count)

    def take(self) -> bool:
        """Reserve one request; ``False`` when the budget is spent until the reset."""
        with self._lock:
            if self.reset is not None and self.reset <= time.time():
                self.remaining = None  # the window has reset: the next answer tells the new count
            if self.remaining is None:
                return True
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            return True

    def when(self) -> str:
        if self.reset is None:
            return "later"
        return "after " + datetime.fromtimestamp(self.reset, UTC).strftime("%H:%M UTC")

    def advice(self, token: bool) -> str:
        limit = f"{self.limit} requests an hour" if self.limit else "its hourly request limit"
        if token:
            return f"GitHub's rate limit is reached ({limit}); run again {self.when()}"
        return f"GitHub's rate limit is reached ({limit} without a token); set GITHUB_TOKEN or run again {self.when()}"


def next_link(link_header: str | None) -> str | None:
    for part in (link_header or "").split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', part)
        if match:
            return match.group(1)
    return None


def full_name_of(repo: dict[str, Any]) -> str | None:
    """``owner/name`` from a repository object of any API era (``full_name``, else owner + name)."""
    if isinstance(repo.get("full_name"), str) and "/" in repo["full_name"]:
        return repo["full_name"]
    owner = repo.get("owner")
    login = owner.get("login") if isinstance(owner, dict) else owner if isinstance(owner, str) else None
    name = repo.get("name")
    return f"{login}/{name}" if isinstance(login, str) and isinstance(name, str) else None


class GitHubAPI:
    def __init__(self, client: HttpFetcher, *, token: str | None = None, api_url: str = API_URL):
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.token = bool(token)
        self.budget = RateBudget()
        self.halted: str | None = None  # set by a 403/429: GitHub asked us to stop for now
        self.headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def get(self, url: str, *, conditional: bool = True) -> FetchResult:
        url = url if "://" in url else f"{self.api_url}{url}"
        if self.halted or not self.budget.take():
            raise RateLimited(url, self.halted or self.budget.advice(self.token), 403)
        try:
            result = self.client.get(url, headers=self.headers, robots=False, conditional=conditional)
        except FetchError as error:
            if error.status in {403, 429}:  # the primary limit, or a secondary one (Retry-After)
                secondary = self.budget.remaining not in (None, 0)
                self.halted = (
                    f"GitHub asked to slow down (HTTP {error.status}, a secondary rate limit); run again in a few minutes"
                    if secondary else self.budget.advice(self.token)
                )
                raise RateLimited(error.url, self.halted, error.status) from None
            raise
        self.budget.update(result.headers)
        return result

    def json(self, url: str, kind: type) -> Any:
        result = self.get(url)
        data = result.json()
        if not isinstance(data, kind):
            expected = "a list" if kind is list else "an object"
            found = "a list" if isinstance(data, list) else "an object" if isinstance(data, dict) else "a " + type(data).__name__
            raise FetchError(result.url, f"GitHub answered with {found} where {expected} was expected")
        return data

    def paginate(self, path: str) -> list[dict[str, Any]]:
        """Every item of a listing, following ``Link: rel=next``; a link back to a page already
        read (or past ``MAX_PAGES``) ends the listing instead of looping."""
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        url: str | None = f"{self.api_url}{path}"
        while url and url not in seen and len(seen) < MAX_PAGES:
            seen.add(url)
            result = self.get(url)
            page = result.json()
            if not isinstance(page, list):
                raise FetchError(result.url, "GitHub answered with an object where a list of repositories was expected")
            items.extend(item for item in page if isinstance(item, dict))
            url = next_link(result.headers.get("link"))
        return items

    def user_repositories(self, user: str) -> list[dict[str, Any]]:
        repos = self.paginate(f"/users/{quote(user)}/repos?per_page=100&type=owner&sort=full_name")
        return [r for r in repos if not r.get("fork") and full_name_of(r)]

    def repository(self, full_name: str) -> dict[str, Any]:
        return self.json(f"/repos/{full_name}", dict)

    def crawl_repository(self, repo: dict[str, Any], *, author: str, limits: Limits = DEFAULT_LIMITS) -> Document:
        full_name = full_name_of(repo)
        if full_name is None:
            raise ExtractionError("repository object has no full_name or owner/name")
        # default_branch (master_branch in the v2 era); without either GitHub uses its default.
        branch = repo.get("default_branch") or repo.get("master_branch")
        path = f"/repos/{full_name}/tarball" + (f"/{quote(branch, safe='')}" if isinstance(branch, str) and branch else "")
        archive = self.get(path, conditional=False)  # large and fetched once: not for the cache
        budget, scan = read_tarball(archive.content, limits)
        url = repo.get("html_url") or f"https://github.com/{full_name}"
        document = repository_document(url, full_name, repo.get("description") or "", budget, author=author, source="api")
        if scan:
            document.extra["archive_truncated"] = scan
        return document


def read_tarball(data: bytes, limits: Limits) -> tuple[FileBudget, str]:
    """The files of a repository tarball that pass the filters, read as a stream (memory stays
    at one member), and a note when the archive was too big to scan to the end."""
    budget = FileBudget(limits)
    note = ""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:
            for count, member in enumerate(archive):
                if count >= MAX_ARCHIVE_MEMBERS or member.offset_data > MAX_ARCHIVE_INFLATED:
                    note = f"archive has more than {MAX_ARCHIVE_MEMBERS} files or {MAX_ARCHIVE_INFLATED >> 20} MB; the rest was not read"
                    break
                if not member.isfile():  # links, folders and devices are never source
                    continue
                path = member.name.split("/", 1)[1] if "/" in member.name else member.name  # drop <owner>-<repo>-<sha>/
                if not wanted(path) or not limits.selects(path) or not budget.room_for(member.size):
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    budget.add(path, handle.read())
    except (tarfile.TarError, zlib.error, EOFError, OSError):
        if not budget.files:
            raise ExtractionError("the repository archive from GitHub is not a readable tarball") from None
        note = "the repository archive ended early; the files read before that are kept"
    return budget, note


def crawl_user(api: GitHubAPI, user: str, *, author: str, limits: Limits = DEFAULT_LIMITS) -> CrawlReport:
    """Every non-fork repository of ``user``; one line per failed repository, and one line for
    all the repositories left when the rate limit stopped the crawl."""
    report = CrawlReport()
    try:
        repos = api.user_repositories(user)
    except FetchError as error:
        report.fail(f"github user {user}", error.reason)
        return report
    except ValueError as error:
        report.fail(f"github user {user}", error)
        return report
    stopped: list[str] = []

    def one(repo: dict[str, Any]) -> CrawlReport:
        part = CrawlReport()
        name = repo.get("html_url") or full_name_of(repo) or "?"
        try:
            part.documents.append(api.crawl_repository(repo, author=author, limits=limits))
        except RateLimited:
            stopped.append(name)
        except FetchError as error:
            part.fail(name, error.reason)
        except ValueError as error:
            part.fail(name, error)
        return part

    report.extend(run_each(repos, one, workers=2))
    if stopped:
        report.fail(
            f"github user {user}",
            f"{len(stopped)} of {len(repos)} repositories not read: {api.halted or api.budget.advice(api.token)}",
        )
    return report


def repo_name(url: str) -> str:
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) < 2:
        raise ExtractionError(f"{url} does not name a repository (expected github.com/owner/name)")
    return f"{parts[0]}/{parts[1].removesuffix('.git')}"


def crawl_repository_url(api: GitHubAPI, url: str, *, author: str, limits: Limits = DEFAULT_LIMITS) -> Document:
    try:
        return api.crawl_repository(api.repository(repo_name(url)), author=author, limits=limits)
    except RateLimited as error:
        raise ExtractionError(error.reason) from None
