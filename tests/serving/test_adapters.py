"""One base, many LoRA adapters on the local server: chosen per request (TGI's ``adapter_id``,
OpenAI's ``model``), several resident at once, added and swapped without reloading the base."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.serving.conftest import serve
from twin_serving.tgi_server import create_tgi_app

PROMPT = "Small teams"


def make_adapter(base_dir, folder, seed: int):
    """A LoRA adapter with random (not zero) weights: plumbing, not quality."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(model, config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def adapter_dirs(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    # Names must not be substrings of peft's "lora_" prefix (peft would re-initialize them).
    return {name: make_adapter(tiny_model_dir, root / name, seed)
            for seed, name in enumerate(("ann", "bob", "cyd"), 1)}


def _generate(url, adapter=None, tokens=8):
    parameters = {"max_new_tokens": tokens, "details": True}
    if adapter:
        parameters["adapter_id"] = adapter
    reply = httpx.post(url + "/generate", json={"inputs": PROMPT, "parameters": parameters}, timeout=60)
    assert reply.status_code == 200, reply.text
    return [t["id"] for t in reply.json()["details"]["tokens"]]


def test_adapters_per_request_added_and_swapped_on_one_base(tiny_model_dir, adapter_dirs):
    resident = {"ann": (adapter_dirs["ann"], "v1"), "bob": (adapter_dirs["bob"], "v1")}
    app = create_tgi_app(lambda: (str(tiny_model_dir), "base/test"), reload_interval_s=0.2,
                         adapters=lambda: dict(resident))
    with serve(app) as url:
        engine = app.state.engine
        base_loaded = engine.loaded
        models = httpx.get(url + "/v1/models").json()["data"]
        assert [m["id"] for m in models[1:]] == ["ann", "bob"]
        assert all(m["parent"] == models[0]["id"] for m in models[1:])

        base, a, b = _generate(url), _generate(url, "ann"), _generate(url, "bob")
        assert len({tuple(base), tuple(a), tuple(b)}) == 3  # each request got its own weights
        assert _generate(url) == base  # the base is untouched by the adapters

        unknown = httpx.post(url + "/generate", json={"inputs": PROMPT, "parameters": {"adapter_id": "zz"}})
        assert unknown.status_code == 422 and unknown.json()["error_type"] == "validation"
        assert "not loaded" in unknown.json()["error"]

        # Promotion: "ann" becomes a new version (cyd's weights) and "cyd" joins; the base stays.
        resident["ann"] = (adapter_dirs["cyd"], "v2")
        resident["cyd"] = (adapter_dirs["cyd"], "v1")
        for _ in range(100):
            if engine.require().adapters.get("ann", ("", ""))[1] == "v2" and "cyd" in engine.require().adapters:
                break
            time.sleep(0.1)
        c_alone = _generate(url, "cyd")
        assert _generate(url, "ann") == c_alone != a
        assert engine.loaded is base_loaded and _generate(url) == base
        assert _generate(url, "bob") == b

        del resident["bob"]  # retired
        for _ in range(100):
            if "bob" not in engine.require().adapters:
                break
            time.sleep(0.1)
        gone = httpx.post(url + "/generate", json={"inputs": PROMPT, "parameters": {"adapter_id": "bob"}})
        assert gone.status_code == 422


def test_clients_choose_the_adapter(tiny_model_dir, adapter_dirs, hub_http_allowed):
    from huggingface_hub import InferenceClient
    from openai import OpenAI

    app = create_tgi_app(lambda: (str(tiny_model_dir), "base/test"), reload_interval_s=0,
                         adapters=lambda: {"ann": (adapter_dirs["ann"], "v1")})
    with serve(app) as url:
        hub = InferenceClient(model=url)
        with_a = hub.text_generation(PROMPT, max_new_tokens=8, adapter_id="ann")
        assert with_a != hub.text_generation(PROMPT, max_new_tokens=8)
        client = OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        messages = [{"role": "user", "content": "Hello"}]
        as_a = client.chat.completions.create(model="ann", messages=messages, max_tokens=6, temperature=0)
        as_base = client.chat.completions.create(model="tgi", messages=messages, max_tokens=6, temperature=0)
        assert as_a.model == "ann" and as_a.choices[0].message.content != as_base.choices[0].message.content


def test_promotion_swaps_the_registry_twins_adapter_on_the_same_base(tiny_model_dir, adapter_dirs, tmp_path):
    from twin_core.object_store import open_store
    from twin_core.registry import BASE_MODEL, LATEST, PRODUCTION, ModelRegistry, twin_registry
    from twin_core.settings import Settings
    from twin_serving.model_source import base_source, production_adapter_source

    settings = Settings.of(home=tmp_path / "home")
    store = open_store(settings)
    base = ModelRegistry(store, BASE_MODEL)
    base.set_alias(LATEST, base.register(tiny_model_dir, {"base_model": "tiny"}, version="b1"))
    twin = twin_registry(store, "ann")
    # The merged export stays beside each adapter (engines without adapter support load it).
    v1 = twin.register(tiny_model_dir, {"base_model": "tiny"}, adapter_dir=adapter_dirs["ann"])
    v2 = twin.register(tiny_model_dir, {"base_model": "tiny"}, adapter_dir=adapter_dirs["bob"])
    twin.set_alias(PRODUCTION, v1)
    # A second author's twin: resident beside Ann's, untouched by her promotion.
    ben = twin_registry(store, "ben")
    ben.set_alias(PRODUCTION, ben.register(tiny_model_dir, {"base_model": "tiny"}, adapter_dir=adapter_dirs["bob"]))

    app = create_tgi_app(base_source(settings), reload_interval_s=0.2,
                         adapters=production_adapter_source(settings))
    with serve(app) as url:
        engine = app.state.engine
        base_loaded = engine.loaded
        assert engine.require().version == "base/b1"
        assert engine.require().adapters["twin-ann"][1] == f"twin/ann/{v1}"
        assert engine.require().adapters["twin-ben"][1] == "twin/ben/v1"
        first, plain, bens = _generate(url, "twin-ann"), _generate(url), _generate(url, "twin-ben")
        twin.set_alias(PRODUCTION, v2)  # Ann's promotion
        for _ in range(100):
            if engine.require().adapters["twin-ann"][1] == f"twin/ann/{v2}":
                break
            time.sleep(0.1)
        assert engine.require().adapters["twin-ann"][1] == f"twin/ann/{v2}"
        assert engine.loaded is base_loaded and _generate(url) == plain  # the base never reloaded
        assert _generate(url, "twin-ann") != first
        assert _generate(url, "twin-ben") == bens
    assert (twin.materialize_version(v2, tmp_path / "cache") / "config.json").is_file()
