"""Calls to a remote endpoint, many at once within a bound, each retried with backoff.

A dataset build asks the instruction LLM once per extract: hundreds of calls. One at a time
they take hours; unbounded they overload the endpoint. Failures of one call (a timeout, a 503
while the server scales) are retried with exponential backoff and jitter, and a call that still
fails is reported as that item's outcome instead of stopping the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

T = TypeVar("T")
R = TypeVar("R")


class RetryableError(Exception):
    """A failure worth another attempt; ``retry_after_s`` is the server's own hint, if any."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")


def call_with_retries(call: Callable[[], R], policy: RetryPolicy) -> R:
    """``call()``, again after a growing pause each time it raises ``RetryableError``; the last
    error is raised as is once the attempts are spent. Other errors are raised at once."""
    backoff = wait_exponential_jitter(initial=policy.backoff_s, max=policy.max_backoff_s, jitter=policy.backoff_s)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after_s", None) or 0.0
        return max(backoff(state), min(hint, policy.max_backoff_s))

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception(lambda error: isinstance(error, RetryableError)),
        reraise=True,
    )
    return retrying(call)


def map_bounded(work: Callable[[T], R], items: Sequence[T], limit: int) -> list[R | Exception]:
    """``work`` over ``items`` with at most ``limit`` running at once; each item's result, or
    the exception it raised, in the order of ``items``."""
    if limit < 1:
        raise ValueError("limit must be at least 1")

    def outcome(item: T) -> R | Exception:
        try:
            return work(item)
        except Exception as error:  # the item's outcome; the caller reports it
            return error

    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(limit, len(items)), thread_name_prefix="llm-call") as pool:
        return list(pool.map(outcome, items))
