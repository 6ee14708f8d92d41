"""Per-client throttle on wrong credentials (the page's login, the API key).

Each client (its address; behind a configured proxy, the forwarded one) may get the key wrong
``max_failures`` times per ``window_s``; after that it is answered 429 with ``Retry-After``
until its oldest failure leaves the window, so guessing a key costs minutes per handful of
tries instead of hundreds per second. Memory is bounded: the least recently seen clients are
forgotten first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


class FailureThrottle:
    def __init__(self, max_failures: int = 5, window_s: float = 60.0, max_clients: int = 10_000):
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float | None = None) -> float | None:
        """Seconds this client must wait before trying again, or None when it may try now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._recent(client, now)
            if failures is None or len(failures) < self.max_failures:
                return None
            return max(0.0, failures[0] + self.window_s - now)

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._recent(client, now)
            if failures is None:
                failures = self._failures[client] = deque(maxlen=self.max_failures)
                while len(self._failures) > self.max_clients:
                    self._failures.popitem(last=False)
            self._failures.move_to_end(client)
            failures.append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str, now: float) -> deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures
