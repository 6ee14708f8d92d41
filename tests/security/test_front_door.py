"""The API's front door on loopback: rebinding Host headers, origin-bound CSRF tokens, bodies
refused before they are read, credentials checked before the body."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.security.conftest import KEY, raw_exchange

REBOUND = "attacker.example:8000"  # a page whose DNS name now points at 127.0.0.1


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_rebinding_host_is_refused_everywhere_but_health(serve, profile_dir):
    before = (profile_dir / "twin.yaml").read_bytes()
    with serve() as url, httpx.Client(base_url=url, headers={"Host": REBOUND}) as rebound:
        for method, path in [
            ("GET", "/web"),
            ("GET", "/web/api/profiles"),
            ("GET", "/openapi.json"),
            ("POST", "/v1/generate"),
            ("PUT", "/web/api/profiles"),
        ]:
            response = rebound.request(method, path, json={"prompt": "hi"})
            assert response.status_code == 400, (method, path)
            assert "TWIN_TRUSTED_HOSTS" in response.json()["error"]
            assert "csrf" not in response.text.lower()
        assert rebound.get("/health").status_code == 200  # probes come by address
    assert (profile_dir / "twin.yaml").read_bytes() == before


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:8000", "LOCALHOST"])
def test_local_names_are_trusted(serve, host):
    with serve() as url:
        assert httpx.get(url + "/web/api/profiles", headers={"Host": host}).status_code == 200


def test_configured_hosts_are_trusted(serve):
    with serve(trusted_hosts=["twin.example.org"]) as url:
        assert (
            httpx.get(url + "/web/api/profiles", headers={"Host": "twin.example.org"}).status_code
            == 200
        )
        assert (
            httpx.get(url + "/web/api/profiles", headers={"Host": "evil.example.org"}).status_code
            == 400
        )


def test_csrf_token_only_works_on_the_origin_it_was_issued_for(serve, profile_dir):
    """Even between two trusted names, a token read on one origin cannot change the other."""
    with serve(trusted_hosts=["twin.example.org"]) as url, httpx.Client(base_url=url) as client:
        page = client.get("/web", headers={"Host": "twin.example.org"})
        token = _csrf(page.text)
        form = client.get("/web/api/profiles").json()
        other_origin = client.put(
            "/web/api/profiles", json={"authors": form["authors"]}, headers={"X-CSRF-Token": token}
        )
        assert other_origin.status_code == 403 and "CSRF" in other_origin.json()["error"]
        same_origin = client.put(
            "/web/api/profiles",
            json={"authors": form["authors"]},
            headers={"X-CSRF-Token": token, "Host": "twin.example.org"},
        )
        assert same_origin.status_code == 200
        # The page on 127.0.0.1 issues its own token rather than reusing the other origin's.
        assert _csrf(client.get("/web").text) != token


def test_declared_oversized_body_is_refused_before_it_is_sent(serve):
    with serve() as url:
        status, answer = raw_exchange(
            url,
            "POST /v1/generate HTTP/1.1\nHost: 127.0.0.1\n"
            "Content-Type: application/json\nContent-Length: 300000000\n",
            b'{"prompt": "',
        )
        assert status == 413, answer
        assert b"limit of 262144 bytes" in answer


def test_unauthenticated_body_is_not_read(serve):
    """With a key set, 300 MB announced without the key gets its 401 before any of it is read."""
    with serve(api_key=KEY) as url:
        for path in ("/v1/generate", "/v1/chat/completions"):
            status, answer = raw_exchange(
                url,
                f"POST {path} HTTP/1.1\nHost: 127.0.0.1\n"
                "Content-Type: application/json\nContent-Length: 300000000\n",
            )
            assert status == 401, (path, answer)
        status, _ = raw_exchange(
            url,
            "PUT /web/api/profiles HTTP/1.1\nHost: 127.0.0.1\n"
            "Content-Type: application/json\nContent-Length: 300000000\n",
        )
        assert status == 401


def test_chunked_body_is_cut_at_the_limit(serve):
    sent = {"bytes": 0}

    def endless():
        for _ in range(10_000):  # 640 MB if nobody stops it
            sent["bytes"] += 65536
            yield b" " * 65536

    with serve() as url:
        try:
            status = httpx.put(
                url + "/web/api/profiles",
                content=endless(),
                timeout=10,
                headers={"Content-Type": "application/json"},
            ).status_code
        except httpx.TransportError:  # the server answered and closed while we were still sending
            status = 413
    assert status == 413
    assert sent["bytes"] < 64 * 2**20, f"{sent['bytes'] / 2**20:.0f} MB read for a 1 MB limit"


def test_upload_over_its_limit_is_refused_by_its_declared_length(serve):
    from twin_serving.web.profile_form import MAX_EXPORT_BYTES

    with serve() as url:
        status, answer = raw_exchange(
            url,
            "POST /web/api/profiles/exports?author=A HTTP/1.1\nHost: 127.0.0.1\n"
            f"Content-Type: application/zip\nContent-Length: {MAX_EXPORT_BYTES + 1}\n",
            b"PK\x03\x04",
        )
        assert status == 413 and f"limit of {MAX_EXPORT_BYTES} bytes".encode() in answer


def test_bodies_within_limits_still_reach_their_routes(serve):
    with serve() as url:
        response = httpx.post(url + "/v1/generate", json={"prompt": ""})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
            "body",
            "prompt",
        ]
