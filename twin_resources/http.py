"""The crawler HTTP client as a Dagster resource: one set of politeness rules for every crawler."""

from __future__ import annotations

from collections.abc import Callable

from dagster import ConfigurableResource
from pydantic import Field

from twin_core.http_fetch import DEFAULT_USER_AGENT, HttpFetcher
from twin_core.object_store import ObjectStore


class CrawlerHttpResource(ConfigurableResource):
    """Timeouts, retries, per-host limits, robots.txt and conditional requests for crawlers."""

    user_agent: str = Field(DEFAULT_USER_AGENT, description="User-Agent sent with every request.")
    timeout_s: float = Field(20.0, description="Connect/read timeout per request, in seconds.")
    max_retries: int = Field(3, description="Retries on 429, 5xx and connection errors.")
    backoff_base_s: float = Field(0.5, description="First retry delay; doubles each retry, with jitter.")
    max_retry_after_s: float = Field(120.0, description="Longest Retry-After (or rate-limit reset) to wait for.")
    per_host_concurrency: int = Field(2, description="Requests in flight per host.")
    per_host_rate: float = Field(2.0, description="Request starts per second per host (0: unlimited).")
    max_bytes: int = Field(10 * 1024 * 1024, description="Largest response body accepted.")
    max_redirects: int = Field(5, description="Redirect hops followed before giving up.")
    respect_robots: bool = Field(True, description="Honour robots.txt for pages and feeds.")
    github_token: str | None = Field(None, description="GitHub token (raises the API rate limit); optional.")
    github_api_url: str = Field("https://api.github.com", description="GitHub REST API root (GitHub Enterprise).")

    def open(self, cache: ObjectStore | None = None, url_guard: Callable[[str], None] | None = None) -> HttpFetcher:
        """A client; ``cache`` keeps ETag/Last-Modified validators so unchanged pages cost a 304."""
        return HttpFetcher(
            user_agent=self.user_agent,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            backoff_base_s=self.backoff_base_s,
            max_retry_after_s=self.max_retry_after_s,
            per_host_concurrency=self.per_host_concurrency,
            per_host_rate=self.per_host_rate,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
            respect_robots=self.respect_robots,
            cache=cache,
            url_guard=url_guard,
        )
