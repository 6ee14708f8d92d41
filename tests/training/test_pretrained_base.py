"""A base model other than the shipped ones: copied as published (its dtype, its tokenizer and
chat template), from a local folder or from the Hub through ``snapshot_download`` (against a
loopback server speaking the Hub's API: the real Hub cannot be reached here)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.training.hub_api import LoopbackHub
from twin_core.models.pretrained import BaseModelUnavailable, fetch_pretrained
from twin_core.object_store import LocalFolderStore
from twin_core.registry import BASE_MODEL, ModelRegistry
from twin_core.training.base_model import register_base_model


@pytest.fixture(scope="module")
def bf16_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model saved in bfloat16, with a README and an extra ONNX file that no trainer needs."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("bf16") / "model"
    AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    (folder / "README.md").write_text("# a model card\n")
    (folder / "model.onnx").write_bytes(b"\0" * 1024)
    return folder


def _dtypes(folder: Path) -> set[str]:
    from safetensors import safe_open

    with safe_open(folder / "model.safetensors", framework="pt") as weights:
        return {str(weights.get_slice(name).get_dtype()) for name in weights.keys()}  # noqa: SIM118 (not a dict)


def test_a_local_folder_is_registered_as_published(bf16_model_dir, tmp_path):
    store = LocalFolderStore(tmp_path / "store")
    version, card, created = register_base_model(store, str(bf16_model_dir), [], tmp_path / "work")
    assert created and card["provenance"] == {"folder": str(bf16_model_dir.resolve())}
    folder = ModelRegistry(store, BASE_MODEL).materialize_version(version, tmp_path / "cache")
    assert _dtypes(folder) == {"BF16"}  # not widened to fp32 on the way
    assert (folder / "tokenizer.json").is_file() and not (folder / "README.md").exists()
    assert not (folder / "model.onnx").exists()
    again = register_base_model(store, str(bf16_model_dir), [], tmp_path / "work")
    assert again[0] == version and again[2] is False


def test_a_folder_without_safetensors_is_refused_with_the_remedy(bf16_model_dir, tmp_path):
    pickled = tmp_path / "pickled"
    shutil.copytree(bf16_model_dir, pickled)
    (pickled / "model.safetensors").unlink()
    (pickled / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(BaseModelUnavailable, match="has no safetensors weights.*convert it with save_pretrained"):
        fetch_pretrained(str(pickled), tmp_path / "out")


def test_a_hub_id_is_downloaded_pinned_to_its_commit(bf16_model_dir, tmp_path, monkeypatch):
    with LoopbackHub({"acme/twin-base": bf16_model_dir}, monkeypatch) as hub:
        store = LocalFolderStore(tmp_path / "store")
        version, card, _ = register_base_model(store, "acme/twin-base", [], tmp_path / "work")
    assert card["provenance"] == {"repo_id": "acme/twin-base", "revision": hub.commit}
    folder = ModelRegistry(store, BASE_MODEL).materialize_version(version, tmp_path / "cache")
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= names
    assert not names & {"README.md", "model.onnx", ".cache"}  # only what training needs
    assert _dtypes(folder) == {"BF16"}
    assert set(hub.downloaded) == names - {"card.json"}  # nothing else was fetched


def test_hub_failures_are_sentences_with_the_remedy(bf16_model_dir, tmp_path, monkeypatch):
    with LoopbackHub({"acme/twin-base": bf16_model_dir}, monkeypatch, gated={"acme/gated"}):
        with pytest.raises(BaseModelUnavailable, match="is not a model on the Hub .*check the id"):
            fetch_pretrained("acme/missing", tmp_path / "a")
        with pytest.raises(BaseModelUnavailable, match="is gated: accept its license .* set HF_TOKEN"):
            fetch_pretrained("acme/gated", tmp_path / "b")


def test_offline_a_hub_id_says_where_to_download_it(tmp_path):
    # The suite runs with HF_HUB_OFFLINE=1, as a machine without the network would.
    with pytest.raises(BaseModelUnavailable, match="Hub is not reachable from here.*or give a local folder"):
        fetch_pretrained("meta-llama/Llama-3.1-8B-Instruct", tmp_path / "out")


def test_the_asset_fails_with_that_sentence(tmp_path):
    import dagster as dg

    from twin_assets.training import base_model
    from twin_resources.object_store import LocalObjectStoreResource
    from twin_resources.trainer import TrainerLauncherResource

    result = dg.materialize(
        [base_model], raise_on_error=False,
        resources={"object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
                   "trainer": TrainerLauncherResource(work_dir=str(tmp_path / "work"),
                                                      base_model="meta-llama/Llama-3.1-8B-Instruct")},
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "Hub is not reachable from here" in json.dumps(failure.event_specific_data.error.message)
