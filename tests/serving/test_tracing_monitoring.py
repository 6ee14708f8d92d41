"""Langfuse spans as the SDK really sends them (OTLP protobuf to a loopback receiver), and
alert webhooks posted to a loopback receiver."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from tests.serving.conftest import decode_spans, loopback_receiver
from twin_core.settings import AlertRule, ServingSettings
from twin_serving.monitoring import Monitor, RequestRecord, evaluate, percentile
from twin_serving.tracing import RequestTrace, build_langfuse, close_langfuse


def _settings(host: str, **extra) -> ServingSettings:
    # A fresh public key per test: the SDK keeps one client per key for the whole process.
    return ServingSettings(
        langfuse_public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", langfuse_secret_key="sk-lf-test",
        langfuse_host=host, **extra,
    )


def test_trace_nesting_and_attributes_reach_the_otlp_endpoint():
    with loopback_receiver() as (url, recorder):
        langfuse = build_langfuse(_settings(url))
        trace = RequestTrace(langfuse, "twin.generate", input={"prompt": "hi"}, user_id="u-1",
                             session_id="s-1", metadata={"model_version": "twin/v3"})
        with trace.step("retrieval", as_type="retriever", input={"queries": ["hi"]}) as step:
            step.update(output=[{"id": "c1"}])
        with trace.step("generation", as_type="generation", model="twin/v3",
                        model_parameters={"max_new_tokens": 8}) as step:
            step.update(output="hello", usage_details={"input": 12, "output": 3})
        trace.score("latency_s", 0.25)
        trace.finish(output={"text": "hello"})
        close_langfuse(langfuse)
        spans = decode_spans(recorder.bodies("/api/public/otel/v1/traces"))
        scores = [item for batch in recorder.json("/api/public/scores") for item in batch]
    by_name = {s["name"]: s for s in spans}
    assert set(by_name) == {"twin.generate", "retrieval", "generation"}
    root = by_name["twin.generate"]
    assert root["trace_id"] == trace.trace_id and root["parent_id"] == ""
    for child in ("retrieval", "generation"):
        assert by_name[child]["parent_id"] == root["span_id"]
        assert by_name[child]["trace_id"] == root["trace_id"]
    assert root["attributes"]["user.id"] == "u-1"
    assert root["attributes"]["session.id"] == "s-1"
    assert json.loads(root["attributes"]["langfuse.trace.metadata.model_version"]) == "twin/v3"
    retrieval = by_name["retrieval"]["attributes"]
    assert retrieval["langfuse.observation.type"] == "retriever"
    generation = by_name["generation"]["attributes"]
    assert generation["langfuse.observation.type"] == "generation"
    assert generation["langfuse.observation.model.name"] == "twin/v3"
    assert json.loads(generation["langfuse.observation.usage_details"]) == {"input": 12, "output": 3}
    assert [(s["name"], s["value"], s["traceId"]) for s in scores] == [("latency_s", 0.25, trace.trace_id)]


def test_without_keys_tracing_is_a_noop_with_a_trace_id():
    trace = RequestTrace(build_langfuse(ServingSettings()), "twin.generate")
    with trace.step("retrieval") as step:
        step.update(output=[])
    trace.finish(output="x")
    assert len(trace.trace_id) == 32


def test_a_failing_tracer_never_fails_the_request():
    class Broken:
        def start_observation(self, **kwargs):
            raise RuntimeError("collector exploded")

    trace = RequestTrace(Broken(), "twin.generate")
    with trace.step("retrieval") as step:
        step.update(output=[])
    trace.score("latency_s", 1.0)
    trace.finish(output="still answered")


def test_alert_rules_over_a_window():
    rules = [AlertRule(name="slow", metric="p95_latency_s", threshold=2.0, window=10, min_requests=3),
             AlertRule(name="empty", metric="zero_hit_rate", threshold=0.5, window=4, min_requests=4)]
    fast = [RequestRecord(latency_s=0.1, hits=3)] * 9
    assert evaluate(fast, rules) == []
    slow = fast + [RequestRecord(latency_s=5.0, hits=3)]
    assert [a.rule.name for a in evaluate(slow, rules)] == ["slow"]
    no_hits = fast + [RequestRecord(latency_s=0.1, hits=0)] * 3
    assert [a.rule.name for a in evaluate(no_hits, rules)] == ["empty"]
    assert evaluate(no_hits[:2], rules) == []  # too few requests for a verdict
    assert percentile([1, 2, 3, 4], 50) == 2 and percentile([7], 95) == 7


def test_broken_rule_posts_a_slack_message_once_per_cooldown():
    rule = AlertRule(name="failing requests", metric="error_rate", threshold=0.2, window=5, min_requests=5)

    async def scenario(url):
        monitor = Monitor([rule], webhook_url=url + "/hooks/alerts", cooldown_s=3600)
        for _ in range(4):
            monitor.record(RequestRecord(latency_s=0.1, hits=2))
        for _ in range(3):
            monitor.record(RequestRecord(latency_s=0.1, error=True))
        await monitor.drain()
        return monitor

    with loopback_receiver() as (url, recorder):
        monitor = asyncio.run(scenario(url))
        deadline = time.monotonic() + 5
        while not recorder.bodies("/hooks/alerts") and time.monotonic() < deadline:
            time.sleep(0.05)
        messages = recorder.json("/hooks/alerts")
    assert len(messages) == 1 and len(monitor.sent) == 1
    assert "failing requests" in messages[0]["text"] and "error_rate" in messages[0]["text"]
    assert messages[0]["blocks"][0]["type"] == "section"
