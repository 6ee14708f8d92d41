"""The SSRF guard refuses every internal address, directly, by DNS name and through redirects."""

from __future__ import annotations

import asyncio
import http.server
import threading

import pytest

from twin_serving.links import LinkRefused, fetch_links
from twin_serving.ssrf import BlockedURL, make_url_guard

FAKE_DNS = {
    "public.example": ["93.184.216.34"],
    "inside.example": ["10.1.2.3"],
    "mixed.example": ["93.184.216.34", "192.168.0.10"],
    "meta.example": ["169.254.169.254"],
    "v6meta.example": ["fd00:ec2::254"],
    "cgnat.example": ["100.64.0.1"],
}


def fake_resolver(host: str, port: int) -> list[str]:
    if host not in FAKE_DNS:
        raise BlockedURL(f"cannot resolve {host!r}")
    return FAKE_DNS[host]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/", "http://127.1.2.3:8080/x", "http://localhost/", "http://[::1]/",
        "http://0.0.0.0/", "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
        "http://[::ffff:127.0.0.1]/", "http://[fe80::1]/", "http://224.0.0.1/",
        "http://inside.example/", "http://mixed.example/", "http://meta.example/",
        "http://v6meta.example/", "http://cgnat.example/", "http://2130706433/",
        "file:///etc/passwd", "gopher://public.example/", "http://user:pw@public.example/",
        "http://nowhere.example/",
    ],
)
def test_internal_targets_are_refused(url):
    guard = make_url_guard(resolver=lambda h, p: ["127.0.0.1"] if h == "localhost" else fake_resolver(h, p))
    with pytest.raises(BlockedURL):
        guard(url)


def test_public_addresses_pass_and_allowlist_lifts_refusal():
    make_url_guard(resolver=fake_resolver)("https://public.example/post")
    allowing = make_url_guard(["10.0.0.0/8", "intranet.local"], resolver=fake_resolver)
    allowing("http://inside.example/")
    allowing("http://intranet.local/")
    with pytest.raises(BlockedURL, match="169.254.169.254"):
        allowing("http://meta.example/")


class _Redirector(http.server.BaseHTTPRequestHandler):
    target = "http://169.254.169.254/latest/meta-data/"

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.target)
            self.end_headers()
            return
        body = b"<html><head><title>Fresh</title></head><body><article><p>" + b"Fresh news. " * 30 + b"</p></article></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_link_fetch_refuses_loopback_without_allowlist(loopback_site):
    with pytest.raises(LinkRefused, match="loopback"):
        asyncio.run(fetch_links([loopback_site + "/page"], make_url_guard()))


def test_redirect_to_metadata_is_refused_on_the_hop(loopback_site):
    guard = make_url_guard(["127.0.0.1/32"])
    with pytest.raises(LinkRefused, match="169.254.169.254"):
        asyncio.run(fetch_links([loopback_site + "/redirect"], guard, timeout_s=5))


def test_allowed_link_is_fetched_and_extracted(loopback_site):
    fetched = asyncio.run(fetch_links([loopback_site + "/page"], make_url_guard(["127.0.0.1"])))
    assert fetched.warnings == []
    [source] = fetched.sources
    assert source.kind == "link" and "Fresh news." in source.text
