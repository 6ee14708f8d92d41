"""End to end on the shipped sample data: `twin demo` materializes every asset, serves the
production model behind the API, asks once and stops everything it started."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_runs_the_whole_pipeline_and_answers(tmp_path):
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    env = {
        **os.environ,
        "TWIN_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(dagster_home),
        "TWIN_MILVUS_URI": f"http://127.0.0.1:{_free_port()}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("TWIN_API_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "twin_core.cli", "demo"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]

    # Every stage ran on the samples and reported its counts.
    assert re.search(r"raw_documents\s+documents=4\d, new=4\d", out), out
    assert re.search(r"chunk_embeddings\s+chunks=\d+, embedded=\d+", out), out
    assert re.search(r"instruction_dataset\s+rows=\d+", out), out
    assert "twin_model" in out and "model_evaluation" in out

    # The twin answered with sources from the author's own writing, then everything stopped.
    answer = out.split("==> asking the twin:", 1)[1]
    assert "Sources:" in answer
    assert re.search(r"\[1\] .+ — https://", answer), answer
    assert re.search(r"model (twin|base)/\S+ · trace \w+", answer), answer
    for name in ("api", "model server", "milvus"):
        assert re.search(rf"stopped {name} \(pid (\d+)\)", out), out
    for pid in re.findall(r"stopped [a-z ]+ \(pid (\d+)\)", out):
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"  # gone, or a reaped-soon zombie
