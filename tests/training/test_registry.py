"""Model registry round-trip on a local folder and on a real S3-compatible server (moto)."""

from __future__ import annotations

import json

import pytest

from twin_core.object_store import LocalFolderStore, S3Store
from twin_core.registry import (
    BASE_MODEL,
    LATEST,
    PRODUCTION,
    TWIN_MODEL,
    ModelNotFound,
    ModelRegistry,
    folder_hash,
    production_twins,
    resolve_served_model,
    twin_registry,
)


def _round_trip(store, model_dir, tmp_path):
    base = ModelRegistry(store, BASE_MODEL)
    base_version = folder_hash(model_dir)[:12]
    assert base.register(model_dir, {"source": "tiny"}, version=base_version) == base_version
    # Same content again: nothing new.
    assert base.register(model_dir, {"source": "other"}, version=base_version) == base_version
    assert base.card(base_version)["source"] == "tiny"
    base.set_alias(LATEST, base_version)

    twin = twin_registry(store, "ann")  # models/twin/ann/
    v1 = twin.register(model_dir, {"dataset_version": "d1", "fingerprint": "f1"}, adapter_dir=model_dir)
    v2 = twin.register(model_dir, {"dataset_version": "d2", "fingerprint": "f2"})
    assert (v1, v2) == ("v1", "v2")
    assert twin.versions() == ["v1", "v2"]
    assert twin.find(fingerprint="f1") == "v1"
    assert twin.find(fingerprint="nope") is None

    twin.update_card("v1", metrics={"perplexity": 12.5})
    card = twin.update_card("v1", metrics={"style_similarity": 0.4})
    assert card["metrics"] == {"perplexity": 12.5, "style_similarity": 0.4}
    assert card["has_adapter"] is True and card["code_revision"]

    # No production yet: the base model is served.
    path, served = resolve_served_model(store, tmp_path / "cache")
    assert served == f"{BASE_MODEL}/{base_version}"
    assert folder_hash(path) == folder_hash(model_dir)

    twin.set_alias(PRODUCTION, "v2")
    assert twin.aliases() == {PRODUCTION: "v2"}
    assert twin.card(PRODUCTION)["dataset_version"] == "d2"
    path, served = resolve_served_model(store, tmp_path / "cache")
    assert served == "twin/ann/v2"  # the one author's production twin

    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoTokenizer.from_pretrained(path)
    AutoModelForCausalLM.from_pretrained(path)
    adapter = twin.materialize_version("v1", tmp_path / "cache", part="adapter")
    assert (adapter / "config.json").is_file()

    # Cached: a second call reuses the folder.
    assert twin.materialize_version(PRODUCTION, tmp_path / "cache") == path

    # A second author's twin in production: no single twin to serve merged, the base serves
    # (with the twins as adapters on it).
    ben = twin_registry(store, "ben")
    ben.set_alias(PRODUCTION, ben.register(model_dir, {}))
    assert production_twins(store) == {"ann": "v2", "ben": "v1"}
    assert resolve_served_model(store, tmp_path / "cache")[1] == f"{BASE_MODEL}/{base_version}"
    assert ben.materialize_version("v1", tmp_path / "cache") != twin.materialize_version("v1", tmp_path / "cache")


def test_registry_round_trip_on_local_folder(tmp_path, tiny_model_dir):
    _round_trip(LocalFolderStore(tmp_path / "store"), tiny_model_dir, tmp_path)


def test_registry_round_trip_on_s3(tmp_path, tiny_model_dir):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client(
            "s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        )
        client.create_bucket(Bucket="twin")
        _round_trip(S3Store(client, "twin", "prefix"), tiny_model_dir, tmp_path)
    finally:
        server.stop()


def test_unknown_versions_aliases_and_half_uploads(tmp_path, tiny_model_dir):
    store = LocalFolderStore(tmp_path / "store")
    twin = ModelRegistry(store, TWIN_MODEL)
    with pytest.raises(ModelNotFound, match="no production twin and no base"):
        resolve_served_model(store, tmp_path / "cache")
    with pytest.raises(ModelNotFound, match="no version or alias 'v9'"):
        twin.card("v9")
    with pytest.raises(ModelNotFound):
        twin.set_alias(PRODUCTION, "v1")
    with pytest.raises(ValueError, match="not a Hugging Face model folder"):
        twin.register(tmp_path, {})
    # A version whose card never arrived (upload interrupted) is invisible, but its number is taken.
    store.put_bytes("models/twin/v1/model/config.json", json.dumps({}).encode())
    assert twin.versions() == []
    assert twin.register(tiny_model_dir, {}) == "v2"
