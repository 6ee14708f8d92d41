"""The API end to end on loopback: real Milvus Lite server, real embedder, the tiny model behind
the TGI-compatible server, the OpenAI client, `twin ask`, and every error path."""

from __future__ import annotations

import http.server
import json
import threading

import httpx
import pytest

from tests.serving.conftest import decode_spans, loopback_receiver, serve
from tests.serving.stack import CHUNKS, settings_for
from twin_core.settings import AlertRule
from twin_serving.app import create_app

CORE_PROMPT = "Write a LinkedIn post about shipping small models in my voice, using my past content and these new links"


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = (b"<html><head><title>Small models, big wins</title></head><body><article>"
                b"<h1>Small models, big wins</h1><p>" + b"Distilled models cut serving cost by 80 percent. " * 8
                + b"</p></article></body></html>")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def page_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/news/small-models"
    server.shutdown()
    server.server_close()


def make_app(tgi_url, milvus_uri, embedder, index, tokenizer, **extra):
    return create_app(settings_for(tgi_url, milvus_uri, **extra), embedder=embedder, index=index,
                      tokenizer=tokenizer, authors=["Tamsin Vale"])


@pytest.fixture(scope="module")
def api_url(tgi_url, milvus_server, embedder, chunk_index, tokenizer):
    with serve(make_app(tgi_url, milvus_server, embedder, chunk_index, tokenizer)) as url:
        yield url


def test_core_example_with_past_content_and_a_new_link(api_url, page_url):
    body = {"prompt": CORE_PROMPT, "links": [page_url], "platform": "linkedin",
            "max_new_tokens": 8, "temperature": 0}
    reply = httpx.post(api_url + "/v1/generate", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert isinstance(answer["text"], str)
    assert answer["model_version"] == "base/test"
    assert len(answer["trace_id"]) == 32
    kinds = [s["kind"] for s in answer["sources"]]
    assert kinds[0] == "link" and "past" in kinds
    link = answer["sources"][0]
    assert link["title"] == "Small models, big wins" and "Distilled models" in link["snippet"]
    known_urls = {c[2] for c in CHUNKS}
    past = [s for s in answer["sources"] if s["kind"] == "past"]
    assert all(s["url"] in known_urls for s in past)
    # the most relevant past post is among the sources
    assert "https://www.linkedin.com/feed/update/1" in {s["url"] for s in past}


def test_self_query_filter_narrows_retrieval(api_url):
    body = {"prompt": "Summarize what I wrote in my Medium articles about search", "max_new_tokens": 4}
    answer = httpx.post(api_url + "/v1/generate", json=body, timeout=120).json()
    assert answer["sources"] and all(s["url"].startswith("https://medium.com/") for s in answer["sources"])


def test_streaming_contract(api_url):
    body = {"prompt": "Write about on-call weeks", "max_new_tokens": 6, "temperature": 0, "stream": True}
    events = []
    with httpx.stream("POST", api_url + "/v1/generate", json=body, timeout=120) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in reply.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
    names = [n for n, _ in events]
    assert names[-1] == "done" and set(names[:-1]) <= {"token"} and names.count("done") == 1
    done = events[-1][1]
    assert done["text"] == "".join(d["text"] for n, d in events if n == "token").strip()
    assert done["sources"] and done["trace_id"] == reply.headers["x-trace-id"]


def test_openai_client(api_url):
    from openai import OpenAI

    client = OpenAI(base_url=api_url + "/v1", api_key="unused", max_retries=0)
    completion = client.chat.completions.create(
        model="llm-twin", messages=[{"role": "user", "content": "Write about boring ML"}],
        max_tokens=5, temperature=0,
    )
    assert completion.choices[0].message.role == "assistant"
    assert completion.usage.completion_tokens <= 5 and completion.usage.prompt_tokens > 0
    assert completion.model == "base/test"
    stream = client.chat.completions.create(
        model="llm-twin", messages=[{"role": "user", "content": "Write about boring ML"}],
        max_tokens=5, temperature=0, stream=True,
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed.strip() == completion.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason in {"length", "stop"}
    assert [m.id for m in client.models.list()] == ["llm-twin", "twin/Tamsin Vale"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"prompt": "hi", "links": [f"https://example.com/{i}" for i in range(6)]}, "links"),
        ({"prompt": "hi", "max_new_tokens": 0}, "max_new_tokens"),
        ({"prompt": "hi", "max_new_tokens": 5000}, "max_new_tokens"),
        ({"prompt": "hi", "temperature": 3}, "temperature"),
        ({"prompt": "hi", "platform": "myspace"}, "platform"),
        ({"prompt": "hi", "links": ["ftp://example.com/x"]}, "links"),
        ({"prompt": "hi", "surprise": 1}, "surprise"),
        ({"prompt": "hi", "links": ["http://10.0.0.7/admin"]}, "private address"),
        ({"prompt": "hi", "links": ["http://169.254.169.254/latest/"]}, "metadata"),
        ({"prompt": "word " * 790, "max_new_tokens": 8}, "tokens"),
    ],
)
def test_bad_input_gets_a_precise_422(api_url, body, needle):
    reply = httpx.post(api_url + "/v1/generate", json=body, timeout=60)
    assert reply.status_code == 422, reply.text
    assert needle in reply.json()["error"]


def test_an_answer_longer_than_the_model_allows_is_capped_not_refused(api_url):
    """Schema-valid input is answered: 1024 new tokens on a 1024-token model is a shorter answer
    with a warning saying why, not a 422."""
    reply = httpx.post(api_url + "/v1/generate", timeout=120,
                       json={"prompt": "Write about clear logs", "max_new_tokens": 1024, "temperature": 0})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["warnings"] == ["The answer is limited to 512 tokens: the model takes 1024 tokens "
                                "in all, the prompt included."]
    # 200 at all: the model server took the capped limit (it refuses input + new > 1024).


def test_schema_valid_oddities_are_answered(api_url):
    """What JSON Schema allows and schemathesis sends: a lone surrogate in a string and a whole
    number written as a float."""
    body = '{"prompt": "Write about clear logs \\udc80", "max_new_tokens": 8.0, "temperature": 0}'
    reply = httpx.post(api_url + "/v1/generate", content=body, timeout=60,
                       headers={"content-type": "application/json"})
    assert reply.status_code == 200, reply.text


def test_health_ready_and_docs(api_url):
    assert httpx.get(api_url + "/health").json() == {"status": "ok"}
    ready = httpx.get(api_url + "/ready", timeout=30)
    assert ready.status_code == 200 and ready.json()["checks"]["milvus"]["ok"]
    spec = httpx.get(api_url + "/openapi.json").json()
    assert {"/v1/generate", "/v1/chat/completions", "/health", "/ready"} <= set(spec["paths"])
    assert httpx.get(api_url + "/docs").status_code == 200


def test_twin_ask_prints_the_answer_and_sources(api_url, capsys):
    from twin_cli.main import main

    assert main(["ask", "Write about feature stores", "--url", api_url, "--max-new-tokens", "4"]) == 0
    out = capsys.readouterr().out
    assert "Sources:" in out and "https://medium.com/@tamsin/feature-stores" in out
    assert main(["ask", "", "--url", api_url]) == 1
    assert "422" in capsys.readouterr().err


def test_api_key_and_dependencies_down(tgi_url, embedder, tokenizer, tiny_model_dir):
    """TGI and Milvus unreachable: 401 without the key, 503 with a reason, alerts fire."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    rule = AlertRule(name="failing requests", metric="error_rate", threshold=0.5, window=2, min_requests=2)
    with loopback_receiver() as (hook, recorder):
        app = make_app(dead, dead, embedder, None, tokenizer, api_key="s3cret",
                       alert_webhook_url=hook + "/alerts", alert_rules=[rule])
        with serve(app) as url:
            body = {"prompt": "Write about logs"}
            assert httpx.post(url + "/v1/generate", json=body).status_code == 401
            wrong = httpx.post(url + "/v1/generate", json=body, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401 and wrong.json()["error"]
            for _ in range(2):
                down = httpx.post(url + "/v1/generate", json=body, headers={"X-API-Key": "s3cret"}, timeout=30)
                assert down.status_code == 503
                assert down.json()["dependency"] == "tgi"
                assert down.json()["error"] == (f"The model server at {dead} is not running: start it "
                                                "with `twin serve-model` (or set TGI_URL to a running "
                                                "TGI or vLLM).")
            ready = httpx.get(url + "/ready", timeout=30)
            assert ready.status_code == 503
            assert not ready.json()["checks"]["tgi"]["ok"] and not ready.json()["checks"]["milvus"]["ok"]
            assert httpx.get(url + "/health").status_code == 200
        alerts = recorder.json("/alerts")
    assert len(alerts) == 1 and "failing requests" in alerts[0]["text"]
    # TGI up, Milvus down
    app = make_app(tgi_url, dead, embedder, None, tokenizer)
    with serve(app) as url:
        down = httpx.post(url + "/v1/generate", json={"prompt": "Write about logs"}, timeout=60)
        assert down.status_code == 503 and down.json()["dependency"] == "milvus"
        assert "is not answering: start it with `twin milvus start`" in down.json()["error"]


def test_every_step_is_traced(tgi_url, milvus_server, embedder, chunk_index, tokenizer):
    import uuid

    with loopback_receiver() as (host, recorder):
        app = make_app(tgi_url, milvus_server, embedder, chunk_index, tokenizer,
                       langfuse_public_key=f"pk-{uuid.uuid4().hex[:8]}", langfuse_secret_key="sk",
                       langfuse_host=host)
        with serve(app) as url:
            answer = httpx.post(url + "/v1/generate", timeout=120, json={
                "prompt": "Write about vector search", "max_new_tokens": 4, "temperature": 0,
                "session_id": "sess-1", "user_id": "user-1"}).json()
        spans = decode_spans(recorder.bodies("/otel/v1/traces"))  # the lifespan flushed on exit
        scores = {item["name"]: item for batch in recorder.json("/api/public/scores") for item in batch
                  if item["traceId"] == answer["trace_id"]}
    mine = [s for s in spans if s["trace_id"] == answer["trace_id"]]
    by_name = {s["name"]: s for s in mine}
    assert {"twin.generate", "self-query", "query-expansion", "retrieval", "rerank", "prompt",
            "generation"} <= set(by_name)
    root = by_name["twin.generate"]
    assert all(s["parent_id"] == root["span_id"] for s in mine if s is not root)
    assert root["attributes"]["session.id"] == "sess-1" and root["attributes"]["user.id"] == "user-1"
    assert json.loads(root["attributes"]["langfuse.trace.metadata.embedding_model"]) == "all-MiniLM-L6-v2"
    generation = by_name["generation"]["attributes"]
    assert generation["langfuse.observation.type"] == "generation"
    assert generation["langfuse.observation.model.name"] == "base/test"
    usage = json.loads(generation["langfuse.observation.usage_details"])
    assert usage["input"] > 0 and 0 < usage["output"] <= 4
    assert by_name["retrieval"]["attributes"]["langfuse.observation.type"] == "retriever"
    assert {"latency_s", "zero_hits", "empty_answer", "completion_tokens"} <= set(scores)
    assert scores["zero_hits"]["value"] == 0.0 and scores["latency_s"]["value"] > 0


def test_a_seed_makes_a_sampled_answer_repeatable(api_url):
    # Sampled at temperature 1 from the tiny random model: without the seed reaching the engine,
    # two answers of 12 tokens would almost never agree.
    def answer(seed: int, route: str = "/v1/generate") -> str:
        if route == "/v1/generate":
            body = {"prompt": "Write about clear logs", "max_new_tokens": 12, "temperature": 1.0, "seed": seed}
            return httpx.post(api_url + route, json=body, timeout=120).json()["text"]
        body = {"messages": [{"role": "user", "content": "Write about clear logs"}], "max_tokens": 12,
                "temperature": 1.0, "seed": seed}
        return httpx.post(api_url + route, json=body, timeout=120).json()["choices"][0]["message"]["content"]

    assert answer(3) == answer(3) and answer(3) != answer(4)
    chat = "/v1/chat/completions"
    assert answer(3, chat) == answer(3, chat) and answer(3, chat) != answer(4, chat)
    refused = httpx.post(api_url + "/v1/generate", json={"prompt": "hi", "seed": -1}, timeout=30)
    assert refused.status_code == 422 and "seed" in refused.text
