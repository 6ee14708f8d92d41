"""The API's front door, before any route runs: known Host, credentials, bounded body.

1. **Host.** A request whose ``Host`` is not a localhost name or one of ``TWIN_TRUSTED_HOSTS``
   is refused (400). A page on another origin that rebinds its DNS name to 127.0.0.1 sends its
   own name as Host, so it can neither read the page (and its CSRF token) nor call the API.
   ``/health`` and ``/ready`` answer any Host: orchestrators probe them by address.
2. **Credentials before the body.** With ``TWIN_API_KEY`` set, ``/v1`` calls without the key
   and ``/web/api`` calls without a live session are answered 401 before a byte of their body
   is read; a client that keeps sending wrong keys (API or login page) is answered 429 with
   ``Retry-After`` (``twin_serving.throttle``).
3. **Body size per route.** A declared ``Content-Length`` over the route's limit is refused
   (413) at once; a body without one is counted as it arrives and refused when it passes the
   limit. Routes then read the body from memory already bounded.
"""

from __future__ import annotations

import hmac
import json
import math

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twin_core.settings import Settings
from twin_serving.throttle import FailureThrottle
from twin_serving.web import security
from twin_serving.web.profile_form import MAX_EXPORT_BYTES

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ANY_HOST_PATHS = frozenset({"/health", "/ready"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

KB = 1024
DEFAULT_BODY_LIMIT = 64 * KB
# Each limit leaves room for the largest request the route's schema accepts.
BODY_LIMITS = {
    "/v1/generate": 256 * KB,
    "/v1/chat/completions": 4 * KB * KB,  # 50 messages of 8,000 characters, JSON-escaped
    "/web/api/ask": 256 * KB,
    "/web/api/profiles": 1024 * KB,
    "/web/api/profiles/exports": MAX_EXPORT_BYTES,
    "/web/login": 16 * KB,
}


def client_address(scope: Scope) -> str:
    """The client's address (the proxy's forwarded one when ``TWIN_FORWARDED_ALLOW_IPS`` trusts it)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


def host_name(host_header: str) -> str:
    """``Host`` without its port, lower case; IPv6 literals without brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings, key_throttle: FailureThrottle):
        self.app = app
        self.settings = settings
        self.key_throttle = key_throttle
        self.trusted_hosts = LOCAL_HOSTS | {
            h.strip().lower().strip("[]") for h in settings.serving.trusted_hosts
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path, method = scope["path"], scope["method"]
        if (
            path not in ANY_HOST_PATHS
            and host_name(headers.get("host", "")) not in self.trusted_hosts
        ):
            await _answer(
                send,
                400,
                "This server does not answer to that host name; open it by "
                "localhost or a name in TWIN_TRUSTED_HOSTS.",
            )
            return
        refusal = self._credentials(scope, headers)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        if method in BODY_METHODS:
            limit = BODY_LIMITS.get(path.rstrip("/") or "/", DEFAULT_BODY_LIMIT)
            body = await _read_body(receive, headers, limit)
            if body is None:
                await _answer(
                    send,
                    413,
                    f"The request body is over this route's limit of {limit} bytes; send less.",
                )
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _credentials(self, scope: Scope, headers: Headers) -> tuple | None:
        secret = self.settings.serving.api_key
        key = secret.get_secret_value() if secret is not None else ""
        if not key:
            return None
        path, client = scope["path"], client_address(scope)
        checks_key = path.startswith("/v1/") or (path == "/web/login" and scope["method"] == "POST")
        if checks_key and (wait := self.key_throttle.retry_after(client)) is not None:
            seconds = max(1, math.ceil(wait))
            return (
                429,
                f"Too many wrong keys from this address; try again in {seconds} s.",
                {"Retry-After": str(seconds)},
            )
        if path.startswith("/v1/"):
            given = _presented_key(headers)
            if not hmac.compare_digest(given.encode(), key.encode()):
                self.key_throttle.failed(client)
                return (401, "missing or wrong API key", {"WWW-Authenticate": "Bearer"})
            return None
        if path.startswith("/web/api/") and not security.logged_in(Request(scope), key):
            return (401, "Log in with the API key first (the page at /web).")
        return None


def _presented_key(headers: Headers) -> str:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key", "")


async def _read_body(receive: Receive, headers: Headers, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is (declared or counted) over ``limit``."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls: the client's disconnect, for streaming answers

    return replay


async def _answer(
    send: Send, status: int, error: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"error": error}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        raw.append((b"connection", b"close"))  # the rest of the body is not read
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
