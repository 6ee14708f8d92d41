"""``twin dev``: the Dagster UI on 127.0.0.1 with the embedded services it needs."""

from __future__ import annotations

import os
import subprocess
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("dev", help="Start the Dagster UI (dagster dev) on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=3000)
    parser.set_defaults(handler=run)


def run(args) -> int:
    from twin_cli.commands import milvus

    server, started = milvus.ensure_started()  # runs launched from the UI embed into it
    print(f"Milvus Lite: {server.uri} (pid {server.pid})", flush=True)
    try:
        return _dagster_dev(args)
    finally:
        if started:
            milvus.stop_recorded()


def _dagster_dev(args) -> int:
    command = [
        os.path.join(os.path.dirname(sys.executable), "dagster"),
        "dev", "-w", "workspace.yaml", "--host", "127.0.0.1", "--port", str(args.port),
    ]
    # Own process group, so that one SIGTERM stops dagster dev and all its children.
    process = subprocess.Popen(command, start_new_session=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        os.killpg(process.pid, 15)
        return process.wait()
