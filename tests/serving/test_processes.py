"""`twin serve-model` in a child process: started on a free port, used, stopped by PID."""

from __future__ import annotations

import os

import pytest

from twin_cli.main import main
from twin_serving.processes import ServerStartError, start_model_server, stop_server


def test_serve_model_starts_answers_and_stops(tiny_model_dir, tmp_path):
    from text_generation import Client

    server = start_model_server(tiny_model_dir, log_path=tmp_path / "tgi.log")
    try:
        assert server.url.startswith("http://127.0.0.1:")
        reply = Client(server.url).generate("Small teams", max_new_tokens=3)
        assert reply.details.generated_tokens == 3 or reply.details.finish_reason.value == "eos_token"
    finally:
        assert stop_server(server.pid)
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    assert stop_server(server.pid) is False


def test_serve_model_refuses_a_folder_without_a_model(tmp_path, capsys):
    assert main(["serve-model", "--model-dir", str(tmp_path)]) == 1
    assert "not a model folder" in capsys.readouterr().err
    with pytest.raises(ServerStartError, match="exited"):
        start_model_server(tmp_path, timeout_s=60)


def test_twin_serve_in_a_child_process_answers_twin_ask(
    tgi_url, milvus_server, chunk_index, tiny_model_dir, tmp_path, capsys, monkeypatch
):
    from twin_serving.processes import start_api

    env = {"TGI_URL": tgi_url, "TWIN_MILVUS_URI": milvus_server,
           "TWIN_MILVUS_COLLECTION": chunk_index.collection, "TWIN_TOKENIZER": str(tiny_model_dir),
           "TWIN_API_KEY": "k3y", "TWIN_PROFILES": str(tmp_path / "none.yaml")}
    api = start_api(env=env, log_path=tmp_path / "api.log")
    try:
        monkeypatch.setenv("TWIN_API_KEY", "k3y")
        code = main(["ask", "Write about clear logs", "--url", api.url, "--max-new-tokens", "3"])
        monkeypatch.delenv("TWIN_API_KEY")
        out = capsys.readouterr().out
        assert code == 0, (tmp_path / "api.log").read_text()[-2000:]
        assert "Sources:" in out and "https://www.linkedin.com/feed/update/2" in out
        assert main(["ask", "Write about clear logs", "--url", api.url]) == 1
        assert "401" in capsys.readouterr().err
    finally:
        assert stop_server(api.pid)
