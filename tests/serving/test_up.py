"""``twin up``: every service started, one line each saying where, and Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from tests.serving.conftest import bound_socket

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_twin_up_starts_everything_and_ctrl_c_stops_it_all(tiny_model_dir, tmp_path):
    ports = {name: _free_port() for name in ("milvus", "api", "model", "dagster")}
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {**os.environ, "TWIN_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(dagster_home),
           "TWIN_MILVUS_URI": f"http://127.0.0.1:{ports['milvus']}", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "twin_cli.main", "up", "--model-dir", str(tiny_model_dir),
         "--api-port", str(ports["api"]), "--model-port", str(ports["model"]),
         "--dagster-port", str(ports["dagster"])],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while not any(line.startswith("All up.") for line in seen):
            assert process.poll() is None, "".join(seen)
            assert time.monotonic() < deadline, "".join(seen)
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
        where = {line.split("  ")[0].strip(): line for line in seen}
        assert f"127.0.0.1:{ports['milvus']}" in where["Milvus Lite"]
        assert f"http://127.0.0.1:{ports['model']}" in where["Model server"]
        assert f"http://127.0.0.1:{ports['api']}/" in where["API + page"]
        assert f"http://127.0.0.1:{ports['dagster']}" in where["Dagster UI"]

        assert httpx.get(f"http://127.0.0.1:{ports['model']}/health").status_code == 200
        root = httpx.get(f"http://127.0.0.1:{ports['api']}/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/web"
        assert httpx.get(f"http://127.0.0.1:{ports['api']}/web").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['dagster']}/server_info").status_code == 200
        children = [c.pid for c in psutil.Process(process.pid).children(recursive=True)]
        assert children

        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    stopped = [line.split("  ")[0].strip() for line in seen if line.rstrip().endswith("stopped")]
    assert stopped == ["Dagster UI", "API", "model server", "Milvus Lite"], "".join(seen)
    time.sleep(1)
    alive = [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not alive, alive
    for port in ports.values():
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            raise AssertionError(f"port {port} still answers")
        except httpx.TransportError:
            pass
