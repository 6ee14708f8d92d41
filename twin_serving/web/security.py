"""Login session and CSRF protection for the page.

The API key never reaches the browser's page source or URLs: the login form posts it once, and
the page then holds an HttpOnly session cookie signed with the key itself (so changing the key
logs everyone out, and a restart does not). Logging out revokes that session on the server, so a
copied cookie stops working too. State-changing requests must carry the CSRF token from the page
in a header (or form field) equal to the HttpOnly CSRF cookie (double submit); the token is
signed for the origin it was issued on (scheme and Host), and a browser's Origin, when sent, must
be this server. Cookies are ``Secure`` over HTTPS (as the configured proxy reports it) and always
in prod.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

SESSION_COOKIE = "twin_session"
CSRF_COOKIE = "twin_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

# Signs CSRF tokens when no API key is set (a keyless server is a local one: one process).
_PROCESS_SECRET = secrets.token_urlsafe(32)


def _sign(key: str, payload: str) -> str:
    return hmac.new(
        key.encode(), f"twin-web-session|{payload}".encode(), hashlib.sha256
    ).hexdigest()


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


class RevokedSessions:
    """Sessions logged out before they expire; each is forgotten once it would have expired."""

    def __init__(self, max_entries: int = 100_000):
        self.max_entries = max_entries
        self._expires: dict[str, int] = {}
        self._lock = threading.Lock()

    def revoke(self, token: str) -> None:
        expires = token.split(".", 1)[0]
        now = time.time()
        with self._lock:
            if len(self._expires) >= self.max_entries:
                self._expires = {t: e for t, e in self._expires.items() if e > now}
            if len(self._expires) < self.max_entries:
                self._expires[token] = int(expires) if expires.isdigit() else int(now)

    def __contains__(self, token: str) -> bool:
        with self._lock:
            return token in self._expires


def revoked_sessions(request: Request) -> RevokedSessions:
    return request.app.state.revoked_sessions


def logged_in(request: Request, key: str | None) -> bool:
    """No key configured, or a valid session cookie that has not been logged out."""
    if key is None:
        return True
    token = request.cookies.get(SESSION_COOKIE)
    return session_is_valid(token, key) and token not in revoked_sessions(request)


def key_matches(given: str, key: str) -> bool:
    return hmac.compare_digest(given.encode(), key.encode())


def request_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '').lower()}"


def _csrf_secret(request: Request) -> str:
    secret = request.app.state.settings.serving.api_key
    return (secret.get_secret_value() if secret is not None else "") or _PROCESS_SECRET


def _csrf_mac(request: Request, nonce: str) -> str:
    message = f"twin-web-csrf|{request_origin(request)}|{nonce}".encode()
    return hmac.new(_csrf_secret(request).encode(), message, hashlib.sha256).hexdigest()[:32]


def new_csrf_token(request: Request) -> str:
    """A token valid only on the origin (scheme and Host) this request came to."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_csrf_mac(request, nonce)}"


def csrf_token_is_for_this_origin(request: Request, token: str) -> bool:
    nonce, _, mac = token.partition(".")
    return bool(nonce and mac) and hmac.compare_digest(mac, _csrf_mac(request, nonce))


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.settings.env == "prod"


def _cookie_args(request: Request) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": secure_cookies(request), "path": "/"}


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, **_cookie_args(request))


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, **_cookie_args(request))


def clear_session_cookie(request: Request, response: Response) -> None:
    """Log out: the session is revoked on the server, and the browser drops the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        revoked_sessions(request).revoke(token)
    response.delete_cookie(SESSION_COOKIE, **_cookie_args(request))


def csrf_token_for(request: Request) -> str:
    """The token to embed in the page: the visitor's cookie when it was issued for this origin,
    else a fresh one to set."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if cookie and csrf_token_is_for_this_origin(request, cookie):
        return cookie
    return new_csrf_token(request)


def _same_origin(request: Request, origin: str) -> bool:
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return bool(parts.netloc) and parts.netloc.lower() == host.lower()


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raises 403 unless the submitted token equals the cookie, was issued for this origin, and
    the Origin is this server."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and not _same_origin(request, origin):
        raise HTTPException(403, "Cross-site request refused (Origin is not this server).")
    cookie = request.cookies.get(CSRF_COOKIE)
    if (
        not cookie
        or not submitted
        or not hmac.compare_digest(cookie, submitted)
        or not csrf_token_is_for_this_origin(request, submitted)
    ):
        raise HTTPException(403, "Missing or stale CSRF token: reload the page and try again.")
