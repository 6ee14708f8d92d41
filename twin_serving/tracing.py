"""Langfuse tracing for the API: one trace per request, one child observation per RAG step.

The client is built in the app's lifespan (never at import) with its own OpenTelemetry tracer
provider, so the app does not touch the process-wide provider. Without keys nothing is sent and
every call here is a cheap no-op. A tracing failure is logged and never fails a request.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from twin_core.settings import ServingSettings

log = logging.getLogger(__name__)


def build_langfuse(settings: ServingSettings):
    """A Langfuse client, or None when tracing is not configured."""
    if not settings.tracing_enabled:
        return None
    try:
        from langfuse import Langfuse
        from opentelemetry.sdk.trace import TracerProvider

        return Langfuse(
            public_key=settings.langfuse_public_key,
            secret_key=settings.langfuse_secret_key.get_secret_value(),
            base_url=settings.langfuse_host,
            tracer_provider=TracerProvider(),
            flush_interval=1.0,
        )
    except Exception:
        log.exception("Langfuse client could not be built; tracing is off")
        return None


def close_langfuse(client) -> None:
    if client is None:
        return
    try:
        client.shutdown()
    except Exception:
        log.exception("Langfuse shutdown failed")


class Step:
    """One child observation; ``update`` never raises."""

    def __init__(self, observation=None):
        self.observation = observation

    def update(self, **fields: Any) -> None:
        if self.observation is None:
            return
        try:
            self.observation.update(**fields)
        except Exception:
            log.exception("trace update failed")

    def end(self) -> None:
        if self.observation is None:
            return
        try:
            self.observation.end()
        except Exception:
            log.exception("trace end failed")


class RequestTrace:
    """The trace of one API request (a root span) with safe helpers for its children."""

    def __init__(
        self,
        client,
        name: str,
        *,
        input: Any = None,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ):
        self.client = client
        self.root = None
        self.trace_id = uuid.uuid4().hex
        if client is None:
            return
        try:
            from langfuse import propagate_attributes

            with propagate_attributes(
                trace_name=name, user_id=user_id, session_id=session_id, metadata=metadata
            ):
                self.root = client.start_observation(name=name, as_type="span", input=input)
            self.trace_id = self.root.trace_id
        except Exception:
            log.exception("trace start failed")
            self.root = None

    def start(self, name: str, as_type: str = "span", **fields: Any) -> Step:
        if self.root is None:
            return Step()
        try:
            return Step(self.root.start_observation(name=name, as_type=as_type, **fields))
        except Exception:
            log.exception("trace step start failed")
            return Step()

    @contextlib.contextmanager
    def step(self, name: str, as_type: str = "span", **fields: Any) -> Iterator[Step]:
        """A child observation around a block; an exception marks it as an error and re-raises."""
        step = self.start(name, as_type, **fields)
        try:
            yield step
        except BaseException as error:
            step.update(level="ERROR", status_message=f"{type(error).__name__}: {error}"[:500])
            raise
        finally:
            step.end()

    def score(self, name: str, value: float, comment: str | None = None) -> None:
        if self.root is None:
            return
        try:
            self.root.score_trace(name=name, value=float(value), comment=comment)
        except Exception:
            log.exception("trace score failed")

    def finish(self, *, output: Any = None, error: str | None = None) -> None:
        if self.root is None:
            return
        fields: dict[str, Any] = {"output": output}
        if error:
            fields.update(level="ERROR", status_message=error[:500])
        Step(self.root).update(**fields)
        Step(self.root).end()
