"""Start and stop a Milvus Lite server, by PID.

A Milvus Lite *file* can be opened by one process only, but Dagster runs, the API and the CLI are
separate processes; the Milvus Lite *server* (``milvus-lite server``) speaks the Milvus gRPC
protocol to all of them. Its default host is 0.0.0.0, so we always pass 127.0.0.1.

The server closes its data folder cleanly (releasing the folder's lock) on SIGINT, so ``stop``
sends SIGINT first and escalates only if it does not exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

DEFAULT_HOST = "127.0.0.1"


class MilvusServerError(RuntimeError):
    """The server could not be started or did not answer."""


@dataclass(frozen=True)
class MilvusServer:
    pid: int
    host: str
    port: int
    data_dir: str
    log_path: str | None = None

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MilvusServer:
        data = json.loads(text)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nobody listens on right now (the server cannot report the one it picks for 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# ``python -m milvus_lite`` with SIGINT handled: a parent started with SIGINT ignored (a
# script's background job) passes that on, and the server's clean close listens for SIGINT.
_ENTRY = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "from milvus_lite.cmdline import main; sys.exit(main())")


def server_command(data_dir: str | os.PathLike[str], host: str, port: int) -> list[str]:
    return [
        sys.executable, "-c", _ENTRY, "server",
        "--data-dir", str(data_dir), "--host", host, "--port", str(port),
    ]


def answers(uri: str, timeout: float = 2.0) -> bool:
    """True when a Milvus server at ``uri`` answers a request."""
    from pymilvus import MilvusClient

    try:
        client = MilvusClient(uri=uri, timeout=timeout)
        try:
            client.list_collections(timeout=timeout)
        finally:
            client.close()
    except Exception:  # any failure to answer means "not ready"; the caller decides
        return False
    return True


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start(
    data_dir: str | os.PathLike[str],
    *,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    log_path: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
) -> MilvusServer:
    """Start a server in its own process group and return once it answers requests.

    ``port=None`` picks a free port. The process outlives this call; stop it with ``stop``.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    if _port_open(host, port):
        raise MilvusServerError(f"port {host}:{port} is already in use")
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        process = subprocess.Popen(
            server_command(data_dir, host, port),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the caller's terminal must not stop it
        )
    finally:
        if log is not subprocess.DEVNULL:
            log.close()
    server = MilvusServer(process.pid, host, port, str(data_dir), str(log_path) if log_path else None)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MilvusServerError(
                f"milvus-lite server exited with status {process.returncode}"
                + (f"; see {log_path}" if log_path else "")
            )
        if _port_open(host, port) and answers(server.uri):
            return server
        time.sleep(0.2)
    stop(process.pid)
    raise MilvusServerError(f"milvus-lite server did not answer on {server.uri} within {timeout:.0f}s")


def is_running(pid: int) -> bool:
    """True when ``pid`` is a live Milvus Lite server (not a recycled PID of something else)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return "milvus_lite" in cmdline or "milvus-lite" in cmdline


def stop(pid: int, timeout: float = 15.0) -> bool:
    """Stop the server with ``pid``: SIGINT (clean close), then SIGTERM, then SIGKILL.

    Returns False when no such server was running. Reaps the child when we started it.
    """
    if not is_running(pid):
        return False
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        try:
            psutil.Process(pid).wait(wait)
            return True
        except psutil.NoSuchProcess:
            return True
        except psutil.TimeoutExpired:
            continue
    return not is_running(pid)


# The server started by `twin milvus start`, recorded in a small JSON file so `stop` finds it.


def read_pid_file(path: str | os.PathLike[str]) -> MilvusServer | None:
    try:
        return MilvusServer.from_json(Path(path).read_text())
    except (FileNotFoundError, ValueError, TypeError, KeyError):
        return None


def write_pid_file(path: str | os.PathLike[str], server: MilvusServer) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(server.to_json())
    os.replace(tmp, path)
