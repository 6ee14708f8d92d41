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
from twin_core.settings import Settings

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


def web_app(settings: Settings, **parts) -> FastAPI:
    """The product's API app (the page included), pointed at the given settings."""
    from twin_serving.app import create_app

    return create_app(settings, **{"authors": [], **parts})


@pytest.fixture
def serve_web() -> Callable[..., contextmanager]:
    @contextmanager
    def start(settings: Settings, **parts) -> Iterator[str]:
        with serve(web_app(settings, **parts)) as url:
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


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium; .ci/run does it)"
)


@pytest.fixture
def browser_page(tmp_path):
    """A page in Debian's headless Chromium, phone-sized; any script error on it fails the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 412, "height": 915},  # a phone
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page
        finally:
            context.close()
        assert errors == [], f"script errors on the page: {errors}"


def screenshot(target, name: str, **options) -> Path:
    """Keep a picture of a page state under test-artifacts/ (the README's come from here)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=path, **options)
    return path
