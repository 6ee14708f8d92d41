"""Prompt monitoring: per-request measures, alert rules over a sliding window, a webhook.

``evaluate`` is pure (records + rules -> firing alerts). ``Monitor`` keeps recent records and
POSTs a Slack-compatible message (``{"text": ...}``) when a rule starts firing, then stays quiet
for a cooldown so a broken system does not flood the channel. Webhook failures are logged only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from twin_core.settings import AlertRule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestRecord:
    latency_s: float
    error: bool = False
    hits: int = 0
    answer_chars: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    trace_id: str = ""

    @property
    def empty_answer(self) -> bool:
        return not self.error and self.answer_chars == 0


@dataclass(frozen=True)
class Alert:
    rule: AlertRule
    value: float
    requests: int

    def message(self, service: str = "LLM Twin API") -> dict:
        rule = self.rule
        text = (
            f":rotating_light: {service}: {rule.name} — {rule.metric} is {self.value:.3g} "
            f"(threshold {rule.threshold:g}) over the last {self.requests} requests"
        )
        return {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def metric_value(metric: str, records: Sequence[RequestRecord]) -> float:
    n = len(records)
    if metric == "p95_latency_s":
        return percentile([r.latency_s for r in records], 95)
    if metric == "error_rate":
        return sum(r.error for r in records) / n
    served = [r for r in records if not r.error] or list(records)
    if metric == "zero_hit_rate":
        return sum(r.hits == 0 for r in served) / len(served)
    if metric == "empty_answer_rate":
        return sum(r.empty_answer for r in served) / len(served)
    raise ValueError(f"unknown metric {metric!r}")


def evaluate(records: Sequence[RequestRecord], rules: Sequence[AlertRule]) -> list[Alert]:
    """The rules broken by the most recent records (each rule looks at its own window)."""
    alerts = []
    for rule in rules:
        window = list(records)[-rule.window :]
        if len(window) < rule.min_requests:
            continue
        value = metric_value(rule.metric, window)
        if value > rule.threshold:
            alerts.append(Alert(rule, value, len(window)))
    return alerts


def request_scores(record: RequestRecord) -> dict[str, float]:
    """The per-trace scores sent to Langfuse."""
    return {
        "latency_s": record.latency_s,
        "empty_answer": float(record.empty_answer),
        "zero_hits": float(record.hits == 0),
        "retrieved_chunks": float(record.hits),
        "completion_tokens": float(record.completion_tokens),
        "prompt_tokens": float(record.prompt_tokens),
    }


class Monitor:
    def __init__(
        self,
        rules: Sequence[AlertRule],
        webhook_url: str = "",
        cooldown_s: float = 300.0,
        client: httpx.AsyncClient | None = None,
    ):
        self.rules = list(rules)
        self.webhook_url = webhook_url
        self.cooldown_s = cooldown_s
        size = max((r.window for r in self.rules), default=1)
        self.records: deque[RequestRecord] = deque(maxlen=size)
        self.last_sent: dict[str, float] = {}
        self.sent: list[Alert] = []
        self._client = client
        self._tasks: set[asyncio.Task] = set()

    def record(self, record: RequestRecord) -> list[Alert]:
        """Add a record; schedule the webhook for rules that fire and are not cooling down."""
        self.records.append(record)
        now = time.monotonic()
        due = []
        for alert in evaluate(self.records, self.rules):
            last = self.last_sent.get(alert.rule.name)
            if last is not None and now - last < self.cooldown_s:
                continue
            self.last_sent[alert.rule.name] = now
            due.append(alert)
        if due and self.webhook_url:
            try:
                task = asyncio.get_running_loop().create_task(self._post(due))
            except RuntimeError:  # no loop (plain use): nothing to send with
                return due
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return due

    async def _post(self, alerts: list[Alert]) -> None:
        client = self._client or httpx.AsyncClient(timeout=5.0)
        try:
            for alert in alerts:
                try:
                    response = await client.post(self.webhook_url, json=alert.message())
                    response.raise_for_status()
                    self.sent.append(alert)
                except httpx.HTTPError as error:
                    log.warning("alert webhook failed: %s", error)
        finally:
            if self._client is None:
                await client.aclose()

    async def drain(self) -> None:
        """Wait for webhook posts in flight (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
