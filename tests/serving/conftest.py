"""Real local parts for the serving tests: apps served by uvicorn on 127.0.0.1 in a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free 127.0.0.1 port, not listening: connections to it are
    refused until ``serve`` starts on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serve(
    app, ready_path: str = "/health", timeout: float = 60.0, sock: socket.socket | None = None,
    proxy_headers: bool = True,
) -> Iterator[str]:
    """Run an ASGI app on a free 127.0.0.1 port (lifespan included); yield its base URL.

    ``sock``: a socket already bound (see ``bound_socket``) to serve on instead, so a test can
    give out the address before anything listens there. ``proxy_headers=False``: uvicorn
    believes no X-Forwarded-* header of its own, as ``twin serve`` runs it.
    """
    import uvicorn

    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", proxy_headers=proxy_headers))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if not thread.is_alive():
                raise RuntimeError("server thread exited during startup")
            try:
                if httpx.get(url + ready_path, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}{ready_path} not ready in {timeout}s")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


class Recorder:
    """What a loopback HTTP receiver was sent: (path, headers, body) per request."""

    def __init__(self):
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def bodies(self, path_part: str) -> list[bytes]:
        with self.lock:
            return [body for path, _, body in self.requests if path_part in path]

    def json(self, path_part: str) -> list:
        import json

        return [json.loads(b) for b in self.bodies(path_part)]


@contextlib.contextmanager
def loopback_receiver() -> Iterator[tuple[str, Recorder]]:
    """An HTTP server on 127.0.0.1 that answers 200 {} to every POST and records it."""
    import gzip
    import http.server

    recorder = Recorder()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with recorder.lock:
                recorder.requests.append((self.path, dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_PUT = do_POST  # noqa: N815

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()


def decode_spans(bodies: list[bytes]) -> list[dict]:
    """OTLP protobuf export requests -> spans as dicts (name, ids, attributes)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {}
                    for kv in span.attributes:
                        value = kv.value
                        kind = value.WhichOneof("value")
                        attributes[kv.key] = getattr(value, kind) if kind else None
                    spans.append({
                        "name": span.name, "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(), "parent_id": span.parent_span_id.hex(),
                        "attributes": attributes,
                    })
    return spans


# -- the serving stack, built once per test session ------------------------------------------


@pytest.fixture(scope="session")
def embedder():
    from twin_core.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def chunk_index(milvus_server, embedder):
    from tests.serving.stack import fill_index

    return fill_index(milvus_server, "serving_chunks", embedder)


@pytest.fixture(scope="session")
def tgi_url(tiny_model_dir):
    """The tiny model behind the TGI-compatible server, as the API's ``TGI_URL``."""
    from twin_serving.tgi_server import create_tgi_app

    with serve(create_tgi_app(lambda: (str(tiny_model_dir), "base/test"), reload_interval_s=0)) as url:
        yield url


@pytest.fixture
def hub_http_allowed():
    """HF_HUB_OFFLINE makes huggingface_hub refuse every URL, loopback included: give the
    client a plain session for the duration of the test (nothing here leaves 127.0.0.1)."""
    import requests
    from huggingface_hub import configure_http_backend

    configure_http_backend(backend_factory=requests.Session)
    yield
    configure_http_backend()
