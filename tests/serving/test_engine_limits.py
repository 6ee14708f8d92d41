"""The engine's limits as the API reads them: TGI's ``/info``, else vLLM's ``/v1/models``.

vLLM serves no ``/info``; its model list carries ``max_model_len`` on the base and lists each
``--lora-modules`` adapter with the base as ``parent``. The loopback engine answers the way vLLM's
OpenAI server does (the fields below are the ones it writes); no vLLM runs on this machine.
"""

from __future__ import annotations

import asyncio
import json

from tests.fixtures.loopback import Reply
from twin_core.settings import ServingSettings
from twin_serving.generation import Generator
from twin_serving.service import TwinService

BASE = "meta-llama/Llama-3.1-8B-Instruct"


def _permission() -> list[dict]:
    return [{"id": "modelperm-3f9c", "object": "model_permission", "created": 1764547200,
             "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
             "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
             "organization": "*", "group": None, "is_blocking": False}]


VLLM_MODELS = {"object": "list", "data": [
    {"id": BASE, "object": "model", "created": 1764547200, "owned_by": "vllm", "root": BASE,
     "parent": None, "max_model_len": 8192, "permission": _permission()},
    {"id": "twin-ann-lee", "object": "model", "created": 1764547200, "owned_by": "vllm",
     "root": "/adapters/twin/ann-lee/v3", "parent": BASE, "max_model_len": None, "permission": _permission()},
]}


def _service(max_input_tokens: int = 0) -> TwinService:
    return TwinService(ServingSettings(max_input_tokens=max_input_tokens), retriever=None, generator=None,
                       counter=None, url_guard=lambda url: None, known_authors=["Ann Lee"])


def test_a_vllm_engine_gives_its_context_length_through_the_model_list(loopback):
    loopback.route("/v1/models", Reply(body=json.dumps(VLLM_MODELS), content_type="application/json"))
    generator = Generator(loopback.base)

    info = asyncio.run(generator.info())
    assert [r.path for r in loopback.requests] == ["/info", "/v1/models"]  # /info was a 404
    assert info == {"model_id": BASE, "served_model": BASE, "max_total_tokens": 8192}
    assert asyncio.run(generator.resident_adapters()) == {"twin-ann-lee"}
    # The prompt budget is the window less the answer, or the configured cap when it is lower.
    assert _service().budget(info, 256) == 8192 - 256
    assert _service(max_input_tokens=4000).budget(info, 256) == 4000
    assert _service().answer_tokens(info, 9000) == 4096  # at most half the window


def test_tgi_info_wins_when_the_engine_has_it(loopback):
    tgi = {"model_id": BASE, "max_input_tokens": 3072, "max_total_tokens": 4096, "model_sha": "abc123"}
    loopback.route("/info", Reply(body=json.dumps(tgi), content_type="application/json"))
    info = asyncio.run(Generator(loopback.base).info())
    assert [r.path for r in loopback.requests] == ["/info"]
    assert _service().budget(info, 256) == 3072  # the input limit, below 4096 - 256
