"""Dependencies shared by the routers: the service built in the lifespan, and the API key."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from twin_serving.service import TwinService

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <TWIN_API_KEY>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Or `X-API-Key: <key>`")


def get_service(request: Request) -> TwinService:
    return request.app.state.service


def require_api_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> None:
    """When ``TWIN_API_KEY`` is set, every /v1 call must present it."""
    expected = request.app.state.settings.serving.api_key
    if expected is None or not expected.get_secret_value():
        return
    given = (bearer.credentials if bearer else None) or header or ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status_code=401, detail="missing or wrong API key",
            headers={"WWW-Authenticate": "Bearer"},
        )


Service = Annotated[TwinService, Depends(get_service)]
