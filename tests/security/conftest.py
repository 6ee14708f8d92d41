"""The product's app served on 127.0.0.1 the way ``twin serve`` serves it (uvicorn believes no
X-Forwarded-* header of its own), with settings pointing at a temp copy of the profiles."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.serving.conftest import serve as serve_on_loopback
from twin_core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
KEY = "correct horse battery staple"


@pytest.fixture
def profile_dir(tmp_path: Path) -> Path:
    shutil.copy(REPO / "twin.yaml", tmp_path / "twin.yaml")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    return tmp_path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_app(app):
    """The app as ``twin serve`` serves it: uvicorn believes no X-Forwarded-* header itself."""
    return serve_on_loopback(app, proxy_headers=False)


@pytest.fixture
def serve(profile_dir) -> Callable[..., contextmanager]:
    """``serve(**settings)``: the whole app (API and page); Dagster points at a closed port."""

    @contextmanager
    def start(**fields) -> Iterator[str]:
        from twin_serving.app import create_app

        values = {
            "profiles": profile_dir / "twin.yaml",
            "dagster_url": f"http://127.0.0.1:{closed_port()}",
            "tgi_url": f"http://127.0.0.1:{closed_port()}",
            "milvus_uri": f"http://127.0.0.1:{closed_port()}",
            **fields,
        }
        app = create_app(Settings.of(**values), authors=[])
        with serve_app(app) as url:
            yield url

    return start


def raw_exchange(url: str, head: str, body: bytes = b"", wait_s: float = 5.0) -> tuple[int, bytes]:
    """Send a request head (and maybe part of a body) on a plain socket; return the status and
    what came back within ``wait_s``. The server must answer without the rest of the body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
        except TimeoutError:
            return 0, data
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data
