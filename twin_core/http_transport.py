"""The network under the crawlers' HTTP client: every socket operation bounded by a deadline,
and connections made to the address the URL guard checked.

httpx's timeouts apply to each socket operation, so a server that drips one byte every few
seconds (in its headers or its body) is never "timed out". Here each connect, read and write is
given at most the time left before the calling thread's deadline, so a transfer really stops
when the deadline passes, wherever it is.

The SSRF guard resolves a host and judges its addresses; if the connection then resolved the name
again, a DNS answer that changed in between (rebinding) would reach an address nobody checked.
So the guard's checked address is pinned for the host, per thread, and the connection is made to
it (TLS still verifies the certificate against the host name).
"""

from __future__ import annotations

import threading
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager

import httpcore
import httpx


class DeadlineExceeded(Exception):
    """The calling thread's deadline passed before the network operation could finish."""

    def __init__(self, seconds: float):
        super().__init__(f"took longer than the {seconds:g}s deadline")
        self.seconds = seconds


class NetworkLimits(threading.local):
    """Per-thread deadline and pinned addresses; a fetcher shares one across its threads."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.deadline_s: float = 0.0
        self.pinned: dict[str, str] = {}

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def bound(self, timeout: float | None) -> float | None:
        """``timeout`` cut to the time left; raises once nothing is left."""
        left = self.remaining()
        if left is None:
            return timeout
        if left <= 0:
            raise DeadlineExceeded(self.deadline_s)
        return left if timeout is None else min(timeout, left)

    def sleep(self, seconds: float) -> None:
        """Sleep, unless that would pass the deadline (then fail now rather than later)."""
        left = self.remaining()
        if left is not None and seconds >= left:
            raise DeadlineExceeded(self.deadline_s)
        time.sleep(seconds)

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """Everything this thread sends inside the block finishes within ``seconds`` (nested
        deadlines keep the earlier one)."""
        outer, outer_s = self.deadline, self.deadline_s
        deadline = time.monotonic() + seconds
        if outer is None or deadline < outer:
            self.deadline, self.deadline_s = deadline, seconds
        try:
            yield
        finally:
            self.deadline, self.deadline_s = outer, outer_s

    def pin(self, host: str, address: str) -> None:
        self.pinned[host.lower().strip("[]")] = address


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, limits: NetworkLimits):
        self._inner = inner
        self._limits = limits

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._limits.bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._limits.bound(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context, server_hostname: str | None = None, timeout: float | None = None
    ):
        inner = self._inner.start_tls(ssl_context, server_hostname, self._limits.bound(timeout))
        return _BoundedStream(inner, self._limits)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self, limits: NetworkLimits):
        self._inner = httpcore.SyncBackend()
        self._limits = limits

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options=None,
    ) -> httpcore.NetworkStream:
        address = self._limits.pinned.get(host.lower().strip("[]"), host)
        stream = self._inner.connect_tcp(
            address, port, self._limits.bound(timeout), local_address, socket_options
        )
        return _BoundedStream(stream, self._limits)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._limits.sleep(seconds)


class BoundedTransport(httpx.HTTPTransport):
    """httpx's own transport over the bounded, pinning network backend."""

    def __init__(self, limits: NetworkLimits, *, max_connections: int = 100):
        super().__init__(trust_env=False)
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_BoundedBackend(limits),
        )
