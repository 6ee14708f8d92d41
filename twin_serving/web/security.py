"""Login session and CSRF protection for the page.

The API key never reaches the browser's page source or URLs: the login form posts it once, and
the page then holds an HttpOnly session cookie signed with the key itself (so changing the key
logs everyone out, and a restart does not). State-changing requests must carry the CSRF token
from the page in a header (or form field) equal to the HttpOnly CSRF cookie (double submit),
and a browser's Origin, when sent, must be this server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

SESSION_COOKIE = "twin_session"
CSRF_COOKIE = "twin_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), f"twin-web-session|{payload}".encode(), hashlib.sha256).hexdigest()


def make_session(key: str, lifetime_s: int, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + lifetime_s)
    payload = f"{expires}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_sign(key, payload)}"


def session_is_valid(token: str | None, key: str, now: float | None = None) -> bool:
    if not token or token.count(".") != 2:
        return False
    payload, _, signature = token.rpartition(".")
    if not hmac.compare_digest(signature, _sign(key, payload)):
        return False
    expires = payload.split(".", 1)[0]
    return expires.isdigit() and int(expires) > (now if now is not None else time.time())


def key_matches(given: str, key: str) -> bool:
    return hmac.compare_digest(given.encode(), key.encode())


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def _cookie_args(request: Request) -> dict:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": "/",
    }


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, **_cookie_args(request))


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, **_cookie_args(request))


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, **_cookie_args(request))


def csrf_token_for(request: Request) -> str:
    """The token to embed in the page: the visitor's cookie, or a fresh one to set."""
    return request.cookies.get(CSRF_COOKIE) or new_csrf_token()


def _same_origin(request: Request, origin: str) -> bool:
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return bool(parts.netloc) and parts.netloc.lower() == host.lower()


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raises 403 unless the submitted token equals the cookie and the Origin is this server."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and not _same_origin(request, origin):
        raise HTTPException(403, "Cross-site request refused (Origin is not this server).")
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise HTTPException(403, "Missing or stale CSRF token: reload the page and try again.")
