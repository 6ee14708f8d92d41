"""Start the API or the TGI-compatible server in a child process, and stop it by PID.

The parent binds the listening socket on a free 127.0.0.1 port and hands it to the child
(``--fd``), so there is no window in which another process can take the port. The child runs in
its own process group; ``stop_server`` ends that group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


class ServerStartError(RuntimeError):
    """The server exited or did not become healthy in time."""


@dataclass(frozen=True)
class ServerProcess:
    url: str
    pid: int
    log_path: str | None = None


def start_server(
    command: str,
    args: list[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    env: Mapping[str, str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    ready_path: str = "/health",
    timeout_s: float = 180.0,
) -> ServerProcess:
    """Run ``twin <command> <args> --fd N`` and return once ``ready_path`` answers 200.

    ``port``: 0 for a free one. A port in use raises ``ServerStartError``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServerStartError(f"{host}:{port} is in use: stop what listens there or pick another port") from error
    sock.listen(128)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "twin_cli.main", command, *(args or []), "--fd", str(sock.fileno())]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        process = subprocess.Popen(
            argv, pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True,
        )
    finally:
        sock.close()
        if log is not subprocess.DEVNULL:
            log.close()
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"twin {command} exited with status {process.returncode}"
                + (f"; see {log_path}" if log_path else "")
            )
        try:
            if httpx.get(url + ready_path, timeout=2.0, trust_env=False).status_code == 200:
                return ServerProcess(url, process.pid, str(log_path) if log_path else None)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(process.pid)
    raise ServerStartError(f"twin {command} was not healthy at {url} within {timeout_s:.0f}s")


def start_api(env: Mapping[str, str] | None = None, **kwargs) -> ServerProcess:
    """The API (``twin serve``); it reads ``TGI_URL`` and ``TWIN_*`` from ``env``."""
    return start_server("serve", env=env, **kwargs)


def start_model_server(
    model_dir: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None, **kwargs
) -> ServerProcess:
    """The local TGI-compatible server (``twin serve-model``): the registry's model by default."""
    args = ["--model-dir", str(Path(model_dir))] if model_dir else []
    return start_server("serve-model", args, env=env, **kwargs)


def stop_server(pid: int, timeout_s: float = 15.0) -> bool:
    """SIGTERM the server's process group, SIGKILL after ``timeout_s``. False if not running."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    _alive(pid)
    return True


def _alive(pid: int) -> bool:
    try:  # reap it when it is our child
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
