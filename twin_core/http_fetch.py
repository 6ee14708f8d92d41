"""The crawlers' HTTP client: polite, bounded and cheap to re-run.

Every crawler fetches through ``HttpFetcher`` so that the rules of the road live in one place:
timeouts, and an overall deadline per call or per crawl (``within``) that stops a transfer
wherever it is, even one a server drip-feeds; retries with exponential backoff and jitter on 429,
5xx and connection errors (``Retry-After`` honoured, GitHub's ``X-RateLimit-Reset`` too); per-host
concurrency and request rate; a cap on the *decoded* response size, counted as it inflates
(``twin_core.inflate``); redirects followed hop by hop (so the optional ``url_guard`` sees every
hop, and loops are cut; the address it checked is the one connected to); charset detection;
robots.txt; and conditional requests whose ETag/Last-Modified cache lives in the object store, so
refreshing unchanged pages costs a 304.

Every failure is a ``FetchError`` whose message is one line a user can act on.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from twin_core.http_transport import BoundedTransport, DeadlineExceeded, NetworkLimits
from twin_core.inflate import BadEncoding, BoundedDecoder, TooLarge
from twin_core.object_store import ObjectNotFound, ObjectStore

DEFAULT_USER_AGENT = "llm-twin/0.1 (collects an author's own writing; +https://github.com/llm-twin)"
ROBOTS_AGENT = "llm-twin"
REDIRECTS = {301, 302, 303, 307, 308}
RAW_READ_BYTES = 16 * 1024  # each raw read inflates at most ~16 MB, and is counted in steps

# A guard may return the addresses it checked: the first one is then the one connected to.
URLGuard = Callable[[str], Sequence[str] | None]


class FetchError(Exception):
    """A URL could not be fetched; ``str()`` is ``"<url>: <reason>"`` on one line."""

    def __init__(self, url: str, reason: str, status: int | None = None):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class URLRefused(FetchError):
    """The ``url_guard`` refused a URL (the guard's exception is the ``__cause__``)."""


@dataclass(frozen=True)
class FetchResult:
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes
    encoding: str
    not_modified: bool = False  # a 304: content came from the conditional-request cache
    text: str = field(default="", repr=False)

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError as error:
            raise FetchError(self.url, f"response is not JSON ({error.msg})") from None


# --- charset detection -------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_\-.]+)""")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    # Browsers read latin-1 labels as windows-1252 (curly quotes live in 0x80-0x9f).
    return "cp1252" if codec in {"latin-1", "iso8859-1", "ascii"} else codec


def detect_encoding(content: bytes, content_type: str | None = None) -> str:
    """Header charset, then BOM, then ``<meta charset>``/XML declaration, then UTF-8 if it
    decodes cleanly, else windows-1252 (what undeclared Western pages almost always are)."""
    if content_type:
        match = re.search(r"charset=([^;\s]+)", content_type, re.I)
        if match and (name := _known(match.group(1))):
            return name
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    head = content[:2048]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        match = pattern.search(head)
        if match and (name := _known(match.group(1).decode("ascii", "ignore"))):
            return name
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode(content: bytes, encoding: str) -> str:
    if encoding == "utf-8" and content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8):]
    return content.decode(encoding, errors="replace")


# --- per-host politeness -----------------------------------------------------------------------


class _HostGate:
    """At most ``concurrency`` requests in flight and ``rate`` request starts per second."""

    def __init__(self, concurrency: int, rate: float, sleep: Callable[[float], None] = time.sleep):
        self.sleep = sleep
        self.slots = threading.BoundedSemaphore(max(1, concurrency))
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.lock = threading.Lock()
        self.next_start = 0.0

    def __enter__(self) -> None:
        self.slots.acquire()
        if self.interval:
            with self.lock:
                now = time.monotonic()
                start = max(now, self.next_start)
                self.next_start = start + self.interval
            if start > now:
                try:
                    self.sleep(start - now)
                except BaseException:
                    self.slots.release()
                    raise

    def __exit__(self, *exc: object) -> None:
        self.slots.release()


class _Retry(Exception):
    def __init__(self, reason: str, status: int | None = None, delay: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.delay = delay


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or GitHub's rate-limit reset."""
    value = headers.get("retry-after")
    now = time.time() if now is None else now
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            return None
    if headers.get("x-ratelimit-remaining") == "0" and (reset := headers.get("x-ratelimit-reset", "")).isdigit():
        return max(0.0, float(reset) - now)
    return None


class HttpFetcher:
    """Thread-safe; share one per crawl. Use as a context manager or call ``close()``."""

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        per_host_concurrency: int = 2,
        per_host_rate: float = 2.0,
        max_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        respect_robots: bool = True,
        cache: ObjectStore | None = None,
        cache_prefix: str = "http-cache",
        url_guard: URLGuard | None = None,
        headers: Mapping[str, str] | None = None,
        deadline_s: float | None = None,
    ):
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self.per_host_concurrency = per_host_concurrency
        self.per_host_rate = per_host_rate
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.respect_robots = respect_robots
        self.cache = cache
        self.cache_prefix = cache_prefix.strip("/")
        self.url_guard = url_guard
        self.deadline_s = deadline_s
        self._limits = NetworkLimits()
        self._client = httpx.Client(
            transport=BoundedTransport(self._limits),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate", **(headers or {})},
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,  # we follow hop by hop, so the guard sees every hop
            trust_env=False,
        )
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """Every request this thread makes inside the block (retries, redirects, robots.txt and
        the bodies included) ends within ``seconds``; then ``FetchError`` says so."""
        with self._limits.within(seconds):
            yield

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        robots: bool = True,
        conditional: bool = True,
    ) -> FetchResult:
        """GET ``url``, following redirects. ``robots=False`` is for APIs meant for programs."""
        if self.deadline_s is None:
            return self._get(url, headers, robots, conditional)
        with self.within(self.deadline_s):
            return self._get(url, headers, robots, conditional)

    def _get(self, url: str, headers: Mapping[str, str] | None, robots: bool, conditional: bool) -> FetchResult:
        current = url
        for _hop in range(self.max_redirects + 1):
            self._check(current)
            if robots and self.respect_robots and not self._allowed(current):
                raise FetchError(current, "disallowed by robots.txt")
            cached = self._cache_get(current) if conditional else None
            request_headers = dict(headers or {})
            if cached:
                if cached.get("etag"):
                    request_headers["If-None-Match"] = cached["etag"]
                if cached.get("last_modified"):
                    request_headers["If-Modified-Since"] = cached["last_modified"]
            status, response_headers, body = self._send(current, request_headers)
            if status in REDIRECTS:
                location = response_headers.get("location")
                if not location:
                    raise FetchError(current, f"HTTP {status} redirect without a Location", status)
                current = urljoin(current, location)
                continue
            if status == 304 and cached:
                return self._result(current, 200, cached["headers"], cached["body"], not_modified=True)
            if status >= 400:
                raise FetchError(current, f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".rstrip(), status)
            if conditional and status == 200:
                self._cache_put(current, response_headers, body)
            return self._result(current, status, response_headers, body)
        raise FetchError(url, f"too many redirects (more than {self.max_redirects})")

    def get_json(self, url: str, **kwargs: Any) -> tuple[Any, FetchResult]:
        result = self.get(url, **kwargs)
        return result.json(), result

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise FetchError(url, "only http(s) URLs can be fetched")
        if self.url_guard is not None:
            try:
                checked = self.url_guard(url)
            except Exception as error:
                raise URLRefused(url, f"refused: {error}") from error
            if checked:
                self._limits.pin(parts.hostname, checked[0])

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(
                    self.per_host_concurrency, self.per_host_rate, self._limits.sleep
                )
            return gate

    def _send(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        last: _Retry | None = None
        for attempt in range(self.max_retries + 1):
            if last is not None:
                delay = last.delay if last.delay is not None else self._backoff(attempt - 1)
                if delay > self.max_retry_after_s:
                    raise FetchError(url, f"{last.reason}; asked to wait {delay:.0f}s, more than the {self.max_retry_after_s:.0f}s limit", last.status)
                self._sleep(url, delay)
            try:
                with self._gate(url):
                    return self._attempt(url, headers)
            except _Retry as retry:
                last = retry
            except DeadlineExceeded as error:
                raise FetchError(url, str(error)) from None
        assert last is not None
        tries = self.max_retries + 1
        raise FetchError(url, f"{last.reason} (after {tries} {'try' if tries == 1 else 'tries'})", last.status)

    def _sleep(self, url: str, seconds: float) -> None:
        try:
            self._limits.sleep(seconds)
        except DeadlineExceeded as error:
            raise FetchError(url, str(error)) from None

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_base_s * 2**attempt) * random.uniform(0.5, 1.5)

    def _attempt(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                rate_limited = status == 403 and response_headers.get("x-ratelimit-remaining") == "0"
                if status == 429 or status >= 500 or rate_limited:
                    raise _Retry(
                        f"HTTP {status}" + (" (rate limited)" if status in {403, 429} else ""),
                        status,
                        retry_after_seconds(response_headers),
                    )
                if status in REDIRECTS or status == 304:
                    return status, response_headers, b""
                declared = response_headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(url, f"response is {int(declared)} bytes, more than the {self.max_bytes}-byte limit", status)
                return status, response_headers, self._read_body(url, status, response)
        except httpx.TimeoutException:
            remaining = self._limits.remaining()
            if remaining is not None and remaining <= 0.01:
                raise DeadlineExceeded(self._limits.deadline_s) from None
            raise _Retry(f"timed out after {self.timeout_s:g}s") from None
        except httpx.RemoteProtocolError as error:
            raise _Retry(f"connection broken ({_first_line(error)})") from None
        except httpx.TransportError as error:
            raise _Retry(connection_failure(error)) from None

    def _read_body(self, url: str, status: int, response: httpx.Response) -> bytes:
        """Raw bytes in small reads, inflated under the cap (see ``twin_core.inflate``)."""
        limit = f"the {self.max_bytes}-byte limit"
        try:
            decoder = BoundedDecoder(response.headers.get("content-encoding"), self.max_bytes)
            chunks, raw_size = [], 0
            for raw in response.iter_raw(RAW_READ_BYTES):
                raw_size += len(raw)
                if raw_size > self.max_bytes:
                    raise TooLarge(self.max_bytes)
                chunks.append(decoder.feed(raw))
            chunks.append(decoder.finish())
        except TooLarge:
            what = "decoded response" if decoder.coding else "response"
            raise FetchError(url, f"{what} exceeds {limit}", status) from None
        except BadEncoding as error:
            raise FetchError(url, str(error), status) from None
        return b"".join(chunks)

    def _result(self, url: str, status: int, headers: Mapping[str, str], body: bytes, *, not_modified: bool = False) -> FetchResult:
        encoding = detect_encoding(body, headers.get("content-type"))
        return FetchResult(url, status, dict(headers), body, encoding, not_modified, decode(body, encoding))

    # -- robots.txt ---------------------------------------------------------------------------

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._robots:
                self._robots[origin] = self._load_robots(origin)
        parser = self._robots[origin]
        return parser is None or parser.can_fetch(ROBOTS_AGENT, url)

    def _load_robots(self, origin: str) -> RobotFileParser | None:
        """A missing or broken robots.txt allows everything (what browsers and search engines do)."""
        robots_url = f"{origin}/robots.txt"
        try:
            self._check(robots_url)
            status, headers, body = self._send(robots_url, {})
        except FetchError:
            return None
        if status != 200:
            return None
        parser = RobotFileParser()
        parser.parse(decode(body, detect_encoding(body, headers.get("content-type"))).splitlines())
        return parser

    # -- conditional-request cache ------------------------------------------------------------

    def _cache_key(self, url: str) -> str:
        return f"{self.cache_prefix}/{hashlib.sha256(url.encode()).hexdigest()[:40]}"

    def _cache_get(self, url: str) -> dict[str, Any] | None:
        if self.cache is None:
            return None
        try:
            raw = self.cache.get_bytes(self._cache_key(url))
            header, _, body = raw.partition(b"\n")
            entry = json.loads(header)
        except (ObjectNotFound, ValueError):
            return None
        if entry.get("url") != url:
            return None
        entry["body"] = body
        return entry

    def _cache_put(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        if self.cache is None:
            return
        etag, modified = headers.get("etag"), headers.get("last-modified")
        if not etag and not modified:
            return
        kept = {k: v for k, v in headers.items() if k in {"content-type", "etag", "last-modified", "link"}}
        entry = {"url": url, "etag": etag, "last_modified": modified, "headers": kept}
        self.cache.put_bytes(self._cache_key(url), json.dumps(entry).encode() + b"\n" + body)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


# What a failed connection means, from the operating system's words, for a person reading it.
_CONNECTION_CAUSES = (
    (("connection refused",), "the server refused the connection: nothing is listening at that address"),
    (("name or service not known", "nodename nor servname", "temporary failure in name resolution",
      "getaddrinfo failed", "no address associated"),
     "the host name could not be found: check the address, or the network connection"),
    (("network is unreachable", "no route to host"), "the network is unreachable from here"),
    (("certificate verify failed", "certificate_verify_failed"),
     "the site's TLS certificate could not be verified"),
    (("connection reset",), "the server closed the connection"),
)


def connection_failure(error: BaseException) -> str:
    """A failed connection in a sentence: the likely cause where the error says it, else its
    first line."""
    text = str(error).lower()
    for needles, meaning in _CONNECTION_CAUSES:
        if any(needle in text for needle in needles):
            return meaning
    return f"the connection failed ({_first_line(error)})"
