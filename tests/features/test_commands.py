"""`twin milvus` and `twin search` as a user runs them."""

import os
import subprocess
import sys

import pytest

from twin_cli.main import main
from twin_core import milvus_server as lite_server
from twin_core.vector_index import VectorIndex


def twin(*args, env):
    return subprocess.run([sys.executable, "-m", "twin_cli.main", *args], capture_output=True, text=True, env=env, timeout=120)


def test_milvus_start_status_stop(tmp_path):
    port = lite_server.free_port()
    env = {**os.environ, "TWIN_HOME": str(tmp_path), "TWIN_MILVUS_URI": f"http://127.0.0.1:{port}"}
    pid_file = tmp_path / "run" / "milvus.json"
    try:
        assert twin("milvus", "status", env=env).returncode == 1
        started = twin("milvus", "start", env=env)
        assert started.returncode == 0, started.stderr
        server = lite_server.read_pid_file(pid_file)
        assert server.port == port and lite_server.is_running(server.pid)
        again = twin("milvus", "start", env=env)  # idempotent
        assert again.returncode == 0 and "already running" in again.stdout
        status = twin("milvus", "status", env=env)
        assert status.returncode == 0 and f"127.0.0.1:{port}" in status.stdout
        assert twin("milvus", "stop", env=env).returncode == 0
        assert not lite_server.is_running(server.pid) and not pid_file.exists()
        assert twin("milvus", "stop", env=env).stdout.strip() == "not running"
    finally:
        left = lite_server.read_pid_file(pid_file)
        if left:
            lite_server.stop(left.pid)


def test_milvus_start_refuses_a_remote_uri(tmp_path):
    env = {**os.environ, "TWIN_HOME": str(tmp_path), "TWIN_MILVUS_URI": "https://milvus.example.com:19530"}
    result = twin("milvus", "start", env=env)
    assert result.returncode == 1 and "not a local" in result.stderr


@pytest.fixture
def indexed(milvus_server, embedder):
    texts = [
        ("Ana", "linkedin", "Feature stores pay off once two teams share features."),
        ("Ana", "medium", "How I test data pipelines: small fixtures, real databases."),
        ("Ben", "linkedin", "Sourdough baking needs patience and a warm kitchen."),
    ]
    index = VectorIndex.for_model(milvus_server, embedder.model_name, embedder.dimension)
    index.ensure_collection()
    vectors = embedder.encode_documents([t for _, _, t in texts])
    index.upsert([
        {"id": f"s{i}", "document_id": f"d{i}", "author": a, "platform": p, "category": "post",
         "url": f"https://x.io/{i}", "title": f"Title {i}", "position": 0, "text": t, "vector": v}
        for i, ((a, p, t), v) in enumerate(zip(texts, vectors, strict=True))
    ])
    index.refresh()
    yield
    index.drop()
    index.close()


def test_search_prints_ranked_chunks_and_honours_filters(indexed, milvus_server, monkeypatch, capsys):
    monkeypatch.setenv("TWIN_MILVUS_URI", milvus_server)
    assert main(["search", "testing data pipelines", "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. [") and "Title 1 — Ana, medium/post" in out and "https://x.io/1" in out
    assert main(["search", "baking bread", "--author", "Ana", "--platform", "linkedin"]) == 0
    out = capsys.readouterr().out
    assert "Title 0" in out and "Title 2" not in out and "Title 1" not in out
    assert main(["search", "   "]) == 1
    assert "the query is empty" in capsys.readouterr().err


def test_search_explains_a_missing_server(monkeypatch, capsys):
    monkeypatch.setenv("TWIN_MILVUS_URI", f"http://127.0.0.1:{lite_server.free_port()}")
    assert main(["search", "anything"]) == 1
    assert "twin milvus start" in capsys.readouterr().err
