"""Login hardening on loopback: wrong keys are throttled per client, logout revokes the session,
cookies are Secure in prod and behind a configured TLS proxy."""

from __future__ import annotations

import re

import httpx

from tests.security.conftest import KEY
from twin_serving.throttle import FailureThrottle


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _login(client: httpx.Client, key: str, **headers) -> httpx.Response:
    page = client.get("/web/login", headers=headers)
    token = _csrf(page.text)
    # Sent by hand: a client keeps Secure cookies for HTTPS, and these tests speak plain HTTP
    # to 127.0.0.1 while the proxy (or prod) says HTTPS.
    cookie = {"Cookie": f"twin_csrf={page.cookies.get('twin_csrf') or client.cookies['twin_csrf']}"}
    return client.post(
        "/web/login", data={"api_key": key, "csrf_token": token}, headers={**headers, **cookie}
    )


def test_wrong_keys_are_throttled_per_client(serve):
    with serve(api_key=KEY) as url, httpx.Client(base_url=url) as client:
        answers = [_login(client, f"guess {i}").status_code for i in range(8)]
        assert answers[:5] == [401] * 5
        assert answers[5:] == [429] * 3
        refused = _login(client, KEY)  # even the right key waits: the client is throttled
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "try again in" in refused.json()["error"]
        # The API key is the same secret: guessing it over /v1 is throttled as well.
        assert client.post("/v1/generate", json={"prompt": "hi"}).status_code == 429


def test_api_key_guesses_are_throttled(serve):
    with serve(api_key=KEY) as url:
        statuses = [
            httpx.post(
                url + "/v1/generate",
                json={"prompt": "hi"},
                headers={"Authorization": f"Bearer guess-{i}"},
            ).status_code
            for i in range(7)
        ]
    assert statuses == [401] * 5 + [429] * 2


def test_throttle_window_and_success():
    throttle = FailureThrottle(max_failures=3, window_s=60)
    for t in (0, 1, 2):
        assert throttle.retry_after("a", now=t) is None
        throttle.failed("a", now=t)
    assert throttle.retry_after("a", now=3) == 57
    assert throttle.retry_after("b", now=3) is None  # per client
    assert throttle.retry_after("a", now=60.5) is None  # the first failure left the window
    throttle.succeeded("a")
    assert throttle.retry_after("a", now=61) is None


def test_logout_revokes_the_session_on_the_server(serve):
    with serve(api_key=KEY) as url, httpx.Client(base_url=url) as client:
        assert _login(client, KEY).status_code == 303
        session = client.cookies["twin_session"]
        page = client.get("/web")
        assert client.get("/web/api/profiles").status_code == 200
        logout = client.post("/web/logout", headers={"X-CSRF-Token": _csrf(page.text)})
        assert logout.status_code == 200
        # A copy of the cookie taken before logging out no longer opens anything.
        copied = httpx.Client(base_url=url, cookies={"twin_session": session})
        assert copied.get("/web/api/profiles").status_code == 401
        assert copied.get("/web").headers["location"].endswith("/web/login")


def _session_cookie(response: httpx.Response) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith("twin_session="))


def test_cookies_are_secure_in_prod(serve):
    with serve(api_key=KEY, env="prod") as url, httpx.Client(base_url=url) as client:
        response = _login(client, KEY)
        assert response.status_code == 303
        assert "secure" in _session_cookie(response).lower()


def test_forwarded_proto_is_believed_only_from_the_configured_proxy(serve):
    with serve(api_key=KEY) as url, httpx.Client(base_url=url) as client:
        spoofed = _login(client, KEY, **{"X-Forwarded-Proto": "https"})
        assert "secure" not in _session_cookie(spoofed).lower()
    with (
        serve(api_key=KEY, forwarded_allow_ips=["127.0.0.1"]) as url,
        httpx.Client(base_url=url) as client,
    ):
        proxied = _login(client, KEY, **{"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 303
        assert "secure" in _session_cookie(proxied).lower()
        assert proxied.headers["location"].startswith("https://")
