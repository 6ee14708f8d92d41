"""``twin up``: the whole product on this machine, on the data ``twin demo`` left.

Milvus Lite, the model server (``twin serve-model``), the API with the web page (``twin serve``)
and the Dagster UI, each printed on one line with its address. Ctrl-C (or SIGTERM) stops every
one of them, by PID, in reverse order; a Milvus server that was already running stays up.
If any of them exits on its own, the others are stopped too and the exit is reported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from twin_cli.commands import CommandError

WIDTH = 14


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "up", help="Start Milvus Lite, the model server, the API + page and the Dagster UI together."
    )
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--model-port", type=int, default=8080)
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--model-dir", default=None,
                        help="Serve this model folder instead of the registry's production model.")
    parser.set_defaults(handler=run)


def _line(name: str, where: str) -> None:
    print(f"{name:<{WIDTH}}{where}", flush=True)


def _start_dagster(port: int, log_path: Path, timeout_s: float = 180.0) -> subprocess.Popen:
    command = [os.path.join(os.path.dirname(sys.executable), "dagster"), "dev", "-w", "workspace.yaml",
               "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"the Dagster UI exited with status {process.returncode}; see {log_path}")
        try:
            if httpx.get(url + "/server_info", timeout=2.0, trust_env=False).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    _stop_group(process.pid)
    raise CommandError(f"the Dagster UI did not answer at {url} within {timeout_s:.0f}s; see {log_path}")


def _stop_group(pid: int) -> None:
    from twin_serving.processes import stop_server

    stop_server(pid)


def run(args) -> int:
    from twin_cli.commands import milvus
    from twin_core.settings import Settings
    from twin_serving.processes import ServerStartError, start_api, start_model_server

    logs = Settings().home.resolve() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children: list[tuple[str, int]] = []  # (name, pid), in start order
    milvus_started = False
    stopping = {"signal": None}

    def on_term(signum, frame):  # SIGTERM behaves as Ctrl-C does
        stopping["signal"] = signum
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        server, milvus_started = milvus.ensure_started()
        _line("Milvus Lite", f"{server.uri}  (pid {server.pid}{'' if milvus_started else ', already running'})")
        try:
            model = start_model_server(args.model_dir, port=args.model_port, log_path=logs / "model-server.log")
            children.append(("model server", model.pid))
            _line("Model server", f"{model.url}  (TGI + OpenAI API; log {model.log_path})")
            api = start_api(env={"TGI_URL": model.url, "TWIN_MILVUS_URI": server.uri}, port=args.api_port,
                            log_path=logs / "api.log")
            children.append(("API", api.pid))
            _line("API + page", f"{api.url}/  (page {api.url}/web, docs {api.url}/docs; log {api.log_path})")
        except ServerStartError as error:
            raise CommandError(str(error)) from None
        dagster = _start_dagster(args.dagster_port, logs / "dagster.log")
        children.append(("Dagster UI", dagster.pid))
        _line("Dagster UI", f"http://127.0.0.1:{args.dagster_port}  (log {logs / 'dagster.log'})")
        print("All up. Ctrl-C stops them all.", flush=True)
        while True:
            for name, pid in children:
                if not _running(pid):
                    raise CommandError(f"the {name} exited; stopped the others (see {logs})")
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        for name, pid in reversed(children):
            _stop_group(pid)
            _line(name, "stopped")
        if milvus_started:
            milvus.stop_recorded()
            _line("Milvus Lite", "stopped")


def _running(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done != pid
    except ChildProcessError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
