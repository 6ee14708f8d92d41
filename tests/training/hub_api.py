"""A loopback server speaking the part of the Hugging Face Hub's HTTP API that
``snapshot_download`` uses: model info by revision, HEAD and GET of ``resolve`` URLs with the
commit, ETag and size headers, and the Hub's ``X-Error-Code`` answers for missing and gated
repositories. The real ``huggingface_hub`` client talks to it (the Hub cannot be reached here)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class LoopbackHub:
    """``repos``: Hub id → the folder its files come from. Use as a context manager with
    pytest's ``monkeypatch``: the client's endpoint points here and offline mode is off."""

    def __init__(self, repos: dict[str, Path], monkeypatch: pytest.MonkeyPatch, gated: set[str] = frozenset()):
        self.repos, self.gated, self.monkeypatch = repos, set(gated), monkeypatch
        self.commit = hashlib.sha1(b"".join(sorted(str(p).encode() for p in repos.values()))).hexdigest()
        self.downloaded: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoopbackHub:
        import requests
        from huggingface_hub import configure_http_backend, constants, file_download

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.monkeypatch.setattr(constants, "ENDPOINT", self.url)
        self.monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        self.monkeypatch.setattr(file_download, "HUGGINGFACE_CO_URL_TEMPLATE",
                                 self.url + "/{repo_id}/resolve/{revision}/{filename}")

        def session() -> requests.Session:
            plain = requests.Session()
            plain.trust_env = False  # no proxy between the client and 127.0.0.1
            return plain

        configure_http_backend(backend_factory=session)
        return self

    def __exit__(self, *exc) -> None:
        from huggingface_hub import configure_http_backend

        configure_http_backend()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _error(self, status: int, code: str) -> None:
                body = json.dumps({"error": code}).encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _repo(self, repo_id: str) -> Path | None:
                if repo_id in hub.gated:
                    self._error(403, "GatedRepo")
                    return None
                if repo_id not in hub.repos:
                    self._error(404, "RepoNotFound")
                    return None
                return hub.repos[repo_id]

            def do_GET(self) -> None:
                self._serve(send_body=True)

            def do_HEAD(self) -> None:
                self._serve(send_body=False)

            def _serve(self, send_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                if info := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
                    folder = self._repo(info[1])
                    if folder is None:
                        return
                    siblings = [{"rfilename": p.name} for p in sorted(folder.iterdir()) if p.is_file()]
                    body = json.dumps({"id": info[1], "sha": hub.commit, "siblings": siblings,
                                       "private": False, "gated": False, "disabled": False}).encode()
                    self._send(body, "application/json", send_body)
                elif file := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                    folder = self._repo(file[1])
                    if folder is None:
                        return
                    target = folder / file[3]
                    if not target.is_file():
                        self._error(404, "EntryNotFound")
                        return
                    data = target.read_bytes()
                    if send_body:
                        hub.downloaded.append(target.name)
                    self._send(data, "application/octet-stream", send_body,
                               {"X-Repo-Commit": hub.commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'})
                else:
                    self._error(404, "RepoNotFound")

            def _send(self, body: bytes, kind: str, send_body: bool, headers: dict[str, str] | None = None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

        return Handler
