"""`twin serve-model` in a child process: started on a free port, used, stopped by PID."""

from __future__ import annotations

import os

import pytest

from twin_core.cli import main
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
