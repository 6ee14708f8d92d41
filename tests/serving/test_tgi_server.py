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


def test_openai_client_chat_and_stream(tgi_url):
    from openai import OpenAI

    client = OpenAI(base_url=tgi_url + "/v1", api_key="unused", max_retries=0)
    [model] = client.models.list().data
    assert model.id.endswith("@base/test")
    chat = client.chat.completions.create(model=model.id, messages=[{"role": "user", "content": "Hello"}],
                                          max_tokens=5, temperature=0)
    assert chat.choices[0].message.role == "assistant" and chat.usage.completion_tokens <= 5
    pieces = list(client.chat.completions.create(
        model=model.id, messages=[{"role": "user", "content": "Hello"}], max_tokens=5, temperature=0,
        stream=True))
    assert pieces[-1].choices[0].finish_reason in {"stop", "length"}
    assert "".join(p.choices[0].delta.content or "" for p in pieces) == chat.choices[0].message.content


def test_sampling_parameters_are_validated_like_tgi(tgi_url):
    # Too cold to sample (torch would see inf probabilities): greedy, not a 500.
    cold = httpx.post(tgi_url + "/generate", json={
        "inputs": "Clear logs", "parameters": {"max_new_tokens": 4, "temperature": 1e-38, "do_sample": True}})
    greedy = httpx.post(tgi_url + "/generate", json={"inputs": "Clear logs", "parameters": {"max_new_tokens": 4}})
    assert cold.status_code == 200 and cold.json() == greedy.json()
    chat = httpx.post(tgi_url + "/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "temperature": 6.8e-147})
    assert chat.status_code == 200, chat.text
    for parameters in ({"temperature": 0}, {"temperature": 1e9}, {"top_p": 1.5}, {"top_k": 0},
                       {"repetition_penalty": -1}, {"typical_p": 1}):
        reply = httpx.post(tgi_url + "/generate", json={"inputs": "hi", "parameters": parameters})
        assert reply.status_code == 422, parameters
        assert reply.json()["error_type"] == "validation" and reply.json()["error"], parameters
    for bad in ({"messages": [{"role": "user", "content": "Hi"}], "top_p": 0},
                {"messages": [{"role": "user", "content": "Hi"}], "temperature": -1}):
        reply = httpx.post(tgi_url + "/v1/chat/completions", json=bad)
        assert reply.status_code == 422 and reply.json()["error_type"] == "validation"


def test_every_error_is_tgi_shaped_json(tgi_url):
    missing = httpx.get(tgi_url + "/nowhere")
    assert missing.status_code == 404 and set(missing.json()) == {"error", "error_type"}
    wrong_method = httpx.get(tgi_url + "/generate")
    assert wrong_method.status_code == 405 and set(wrong_method.json()) == {"error", "error_type"}
    not_json = httpx.post(tgi_url + "/generate", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error_type"] == "validation"
