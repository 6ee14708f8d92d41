"""The web page served for real on 127.0.0.1, with settings pointing at temp copies."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.serving.conftest import serve
from tests.serving.stack import fill_index
from twin_serving.settings import ServingSettings
from twin_serving.web.settings import WebSettings, get_web_settings

REPO = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def profile_dir(tmp_path: Path) -> Path:
    """twin.yaml and the samples it reads, copied so tests may rewrite them."""
    shutil.copy(REPO / "twin.yaml", tmp_path / "twin.yaml")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    return tmp_path


def web_app(settings: WebSettings, serving: ServingSettings | None = None, **parts) -> FastAPI:
    """The product's API app (the page included), pointed at the given settings."""
    from twin_serving.app import create_app

    app = create_app(serving or ServingSettings(), **{"authors": [], **parts})
    app.dependency_overrides[get_web_settings] = lambda: settings
    return app


@pytest.fixture
def serve_web() -> Callable[..., contextmanager]:
    @contextmanager
    def start(settings: WebSettings, serving: ServingSettings | None = None, **parts) -> Iterator[str]:
        with serve(web_app(settings, serving, **parts)) as url:
            yield url

    return start


@pytest.fixture
def chunk_collection(milvus_server, embedder, unique_collection):
    """``chunk_collection(chunks)``: a collection of its own on the session's Milvus Lite server,
    filled with (platform, category, url, title, text) chunks embedded for real; dropped after.
    ``.embedder`` made the vectors; ``.uri`` is the server's."""
    opened = []

    def fill(chunks):
        index = fill_index(milvus_server, unique_collection, embedder, chunks)
        opened.append(index)
        return index

    fill.embedder = embedder
    fill.uri = milvus_server
    yield fill
    for index in opened:
        index.drop()
        index.close()
