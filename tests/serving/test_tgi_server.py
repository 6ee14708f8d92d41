"""The local TGI-compatible server, driven by the official clients over real HTTP."""

from __future__ import annotations

import asyncio
import shutil
import time

import httpx
import pytest

from tests.serving.conftest import serve
from twin_serving.tgi_server import create_tgi_app


@pytest.fixture(scope="module")
def tgi_url(tiny_model_dir):
    app = create_tgi_app(lambda: (str(tiny_model_dir), "base/test"), reload_interval_s=0)
    with serve(app) as url:
        yield url


def test_text_generation_client_generate_and_stream(tgi_url):
    from text_generation import AsyncClient, Client

    response = Client(tgi_url).generate("Small teams", max_new_tokens=6)
    details = response.details
    assert details.generated_tokens == len(details.tokens) > 0
    assert details.finish_reason.value in {"length", "eos_token"}
    assert response.generated_text == "".join(t.text for t in details.tokens if not t.special)

    async def stream():
        events = [e async for e in AsyncClient(tgi_url).generate_stream("Small teams", max_new_tokens=6)]
        return events

    events = asyncio.run(stream())
    assert events[-1].details is not None and events[-1].generated_text is not None
    assert all(e.details is None for e in events[:-1])
    assert events[-1].details.generated_tokens == len(events)
    # greedy decoding: streaming and non-streaming give the same text
    assert events[-1].generated_text == response.generated_text


def test_stop_sequence_and_seeded_sampling(tgi_url):
    from text_generation import Client

    client = Client(tgi_url)
    free = client.generate("Good tests", max_new_tokens=12)
    stop = next(t.text for t in free.details.tokens[1:] if t.text.strip() and not t.special)
    stopped = client.generate("Good tests", max_new_tokens=12, stop_sequences=[stop])
    assert stopped.details.finish_reason.value == "stop_sequence"
    assert stop in stopped.generated_text
    assert stopped.details.generated_tokens < free.details.generated_tokens
    a = client.generate("Good tests", max_new_tokens=8, do_sample=True, seed=7, temperature=0.9)
    b = client.generate("Good tests", max_new_tokens=8, do_sample=True, seed=7, temperature=0.9)
    assert a.generated_text == b.generated_text and a.details.seed == 7


def test_validation_errors_are_tgi_shaped(tgi_url):
    from text_generation import Client
    from text_generation.errors import ValidationError

    with pytest.raises(ValidationError, match="max_new_tokens"):
        Client(tgi_url).generate("hi", max_new_tokens=5000)
    reply = httpx.post(tgi_url + "/generate", json={"inputs": ""})
    assert reply.status_code == 422
    assert reply.json()["error_type"] == "validation"


@pytest.fixture
def hub_http_allowed():
    """HF_HUB_OFFLINE makes huggingface_hub refuse every URL, loopback included: give the
    client a plain session for the duration of the test (nothing here leaves 127.0.0.1)."""
    import requests
    from huggingface_hub import configure_http_backend

    configure_http_backend(backend_factory=requests.Session)
    yield
    configure_http_backend()


def test_huggingface_inference_client(tgi_url, hub_http_allowed):
    from huggingface_hub import InferenceClient

    client = InferenceClient(model=tgi_url)
    text = client.text_generation("Clear logs", max_new_tokens=5)
    assert isinstance(text, str)
    detailed = client.text_generation("Clear logs", max_new_tokens=5, details=True)
    assert detailed.generated_text == text and detailed.details.generated_tokens > 0
    pieces = list(client.text_generation("Clear logs", max_new_tokens=5, stream=True))
    assert "".join(pieces).startswith(text[:1]) and len(pieces) == detailed.details.generated_tokens
    chat = client.chat_completion([{"role": "user", "content": "Hello"}], max_tokens=4)
    assert chat.choices[0].message.role == "assistant"
    assert chat.usage.completion_tokens == 4 or chat.choices[0].finish_reason == "stop"


def test_info_and_health(tgi_url):
    info = httpx.get(tgi_url + "/info").json()
    assert info["model_version"] == "base/test"
    assert info["max_total_tokens"] > info["max_input_tokens"] > 0
    assert httpx.get(tgi_url + "/health").status_code == 200


def test_reloads_when_the_served_version_changes(tiny_model_dir, tmp_path):
    copy = tmp_path / "v2"
    shutil.copytree(tiny_model_dir, copy)
    current = {"value": (str(tiny_model_dir), "twin/v1")}
    app = create_tgi_app(lambda: current["value"], reload_interval_s=0.2)
    with serve(app) as url:
        assert httpx.get(url + "/info").json()["model_version"] == "twin/v1"
        current["value"] = (str(copy), "twin/v2")
        for _ in range(100):
            if httpx.get(url + "/info").json()["model_version"] == "twin/v2":
                break
            time.sleep(0.1)
        info = httpx.get(url + "/info").json()
        assert info["model_version"] == "twin/v2" and info["model_path"] == str(copy)
