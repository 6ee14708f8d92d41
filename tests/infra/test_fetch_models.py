"""The engine pod's init container (modules/serving/fetch_models.py) against a real registry on
an S3 server (moto on 127.0.0.1: AWS cannot be reached from tests), run the way the pod runs it:
``python -c <the file>`` with its environment."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.infra.conftest import MODULES
from twin_core.object_store import S3Store
from twin_core.registry import BASE_MODEL, PRODUCTION, ModelRegistry, twin_registry

SCRIPT = MODULES / "serving" / "fetch_models.py"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
BUCKET, PREFIX = "twin-data", "prod/"


def _load():
    spec = importlib.util.spec_from_file_location("fetch_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fetch_models = _load()


@pytest.fixture
def s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets per process, not per server: start from an empty account.
    httpx.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    client = boto3.client("s3", endpoint_url=endpoint, **KEYS)
    client.create_bucket(Bucket=BUCKET)
    try:
        yield endpoint, client
    finally:
        server.stop()


def _folder(path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def _base(store, tmp: Path, tag: str) -> str:
    model = _folder(tmp / f"base-{tag}", {
        "config.json": json.dumps({"model_type": "llama", "hidden_size": 64}).encode(),
        "model.safetensors": tag.encode() * 4096,
        "tokenizer.json": b"{}",
    })
    return ModelRegistry(store, BASE_MODEL).register(model, {"source": f"org/base-{tag}"}, version=f"b{tag}")


def _twin(store, tmp: Path, name: str, base_version: str, *, adapter: bool = True, promote: bool = True,
          merged: bool = True) -> str:
    """A twin of the author ``name`` (a slug) where training registers it: models/twin/<slug>/."""
    merged_dir = _folder(tmp / f"{name}-merged", {"config.json": b"{}", "model.safetensors": b"merged" * 100})
    adapter_dir = _folder(tmp / f"{name}-adapter", {
        "adapter_config.json": json.dumps({"r": 16, "peft_type": "LORA"}).encode(),
        "adapter_model.safetensors": name.encode() * 512,
    }) if adapter else None
    registry = twin_registry(store, name)
    version = registry.register(merged_dir if merged else None, {"base_model": {"name": BASE_MODEL, "version": base_version}},
                                adapter_dir=adapter_dir)
    if promote:
        registry.set_alias(PRODUCTION, version)
    return version


def _registry(client):
    return fetch_models.Registry(client, BUCKET, PREFIX)


def test_every_adapter_on_its_shared_base(s3, tmp_path):
    _, client = s3
    store = S3Store(client, BUCKET, PREFIX)
    base = _base(store, tmp_path, "one")
    _twin(store, tmp_path, "tamsin", base)
    _twin(store, tmp_path, "tamsin", base)  # v2 is promoted: the alias moves
    alice = _twin(store, tmp_path, "alice", base, merged=False)  # adapters mode needs no merged copy
    dest = tmp_path / "data"

    served = fetch_models.fetch(_registry(client), {"twin-tamsin": "twin/tamsin", "twin-alice": "twin/alice"}, True, dest)

    assert served == {"mode": "adapters", "base": {"name": "base", "version": base},
                      "adapters": {"twin-alice": {"model": "twin/alice", "version": alice},
                                   "twin-tamsin": {"model": "twin/tamsin", "version": "v2"}}}
    assert (dest / "model" / "model.safetensors").read_bytes() == b"one" * 4096
    assert sorted(p.name for p in (dest / "model").iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert (dest / "adapters" / "twin-alice" / "adapter_model.safetensors").read_bytes() == b"alice" * 512
    assert (dest / "adapters" / "twin-tamsin" / "adapter_config.json").is_file()
    assert json.loads((dest / "served.json").read_text()) == served
    assert not list(dest.rglob(".*.part"))
    # A restarted init container finds the files in place and copies nothing again.
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file() and p.name != "served.json"}
    fetch_models.fetch(_registry(client), {"twin-tamsin": "twin/tamsin", "twin-alice": "twin/alice"}, True, dest)
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_merged_export_for_engines_without_adapters(s3, tmp_path):
    _, client = s3
    store = S3Store(client, BUCKET, PREFIX)
    base = _base(store, tmp_path, "one")
    version = _twin(store, tmp_path, "tamsin", base, adapter=False)
    dest = tmp_path / "data"
    served = fetch_models.fetch(_registry(client), {"twin-tamsin": "twin/tamsin"}, False, dest)
    assert served == {"mode": "merged", "model": {"name": "twin/tamsin", "version": version}}
    assert (dest / "model" / "model.safetensors").read_bytes() == b"merged" * 100
    assert not (dest / "adapters").exists()


@pytest.mark.parametrize(
    ("setup", "adapters", "serve_adapters", "message"),
    [
        ("unpromoted", {"twin-tamsin": "twin/tamsin"}, True, "models/twin/tamsin has no production version yet: promote one"),
        ("two_bases", {"twin-tamsin": "twin/tamsin", "twin-alice": "twin/alice"}, True, "trained on different bases"),
        ("full_fine_tune", {"twin-tamsin": "twin/tamsin"}, True, "has no LoRA adapter (a full fine-tune): serve its merged export with serve_adapters = false"),
        ("ok", {"twin-tamsin": "twin/tamsin", "twin-alice": "twin/alice"}, False, "without adapters the engine serves one merged model"),
        ("adapter_only", {"twin-tamsin": "twin/tamsin"}, False, "was registered as an adapter alone (merge_adapter off): serve it with serve_adapters = true"),
    ],
)
def test_what_cannot_be_served_is_named(s3, tmp_path, setup, adapters, serve_adapters, message):
    _, client = s3
    store = S3Store(client, BUCKET, PREFIX)
    one = _base(store, tmp_path, "one")
    if setup == "unpromoted":
        _twin(store, tmp_path, "tamsin", one, promote=False)
    elif setup == "two_bases":
        _twin(store, tmp_path, "tamsin", one)
        _twin(store, tmp_path, "alice", _base(store, tmp_path, "two"))
    elif setup == "full_fine_tune":
        _twin(store, tmp_path, "tamsin", one, adapter=False)
    elif setup == "adapter_only":
        _twin(store, tmp_path, "tamsin", one, merged=False)
    else:
        _twin(store, tmp_path, "tamsin", one)
        _twin(store, tmp_path, "alice", one)
    with pytest.raises(fetch_models.FetchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fetch_models.fetch(_registry(client), adapters, serve_adapters, tmp_path / "data")
    assert not (tmp_path / "data" / "served.json").exists()


def _run_like_the_pod(endpoint: str, dest: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1", "TWIN_S3_ENDPOINT_URL": endpoint, "MODELS_BUCKET": BUCKET,
        "MODELS_PREFIX": PREFIX, "ADAPTERS": json.dumps({"twin-tamsin": "twin/tamsin"}), "SERVE_ADAPTERS": "1",
        "DEST": str(dest), **env,
    }
    return subprocess.run([sys.executable, "-c", SCRIPT.read_text()], env=environment,
                          capture_output=True, text=True, timeout=120)


def test_the_container_command_copies_or_fails_with_one_sentence(s3, tmp_path):
    endpoint, client = s3
    missing = _run_like_the_pod(endpoint, tmp_path / "data")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "fetch-models: models/twin/tamsin has no production version yet: promote one (the "
        "production_model asset) before the engine starts"
    )
    wrong_bucket = _run_like_the_pod(endpoint, tmp_path / "data", MODELS_BUCKET="no-such-bucket")
    assert wrong_bucket.returncode == 1 and "Traceback" not in wrong_bucket.stderr
    assert "cannot read the model registry in s3://no-such-bucket" in wrong_bucket.stderr

    store = S3Store(client, BUCKET, PREFIX)
    _twin(store, tmp_path, "tamsin", _base(store, tmp_path, "one"))
    done = _run_like_the_pod(endpoint, tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('fetch-models: serving {"adapters": {"twin-tamsin": {"model": "twin/tamsin", "version": "v1"}}')
    assert (tmp_path / "data" / "adapters" / "twin-tamsin" / "adapter_model.safetensors").is_file()
