"""Every failure becomes a precise JSON answer: 422 bad input, 401 no key, 503 dependency down.

An unexpected exception is still answered with JSON (500, its type named) rather than a bare page.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from twin_serving.generation import GenerationRejected, GenerationUnavailable
from twin_serving.links import LinkRefused
from twin_serving.retriever import RetrievalUnavailable
from twin_serving.schemas import ErrorResponse
from twin_serving.service import BudgetExceeded, UnknownAuthor

log = logging.getLogger(__name__)

ERROR_RESPONSES: dict[int | str, dict] = {
    400: {"model": ErrorResponse, "description": "The body is not readable JSON, or the Host is not this server's."},
    413: {"model": ErrorResponse, "description": "The body is over this route's size limit."},
    429: {"model": ErrorResponse, "description": "Too many wrong keys from this address; see `Retry-After`."},
    401: {"model": ErrorResponse, "description": "`TWIN_API_KEY` is set and the key is missing or wrong."},
    404: {"model": ErrorResponse, "description": "No twin of the named author, or several served and none named."},
    422: {"description": "Bad input: `error` says what, `detail` lists each problem."},
    503: {"model": ErrorResponse, "description": "Milvus or TGI is down; `dependency` says which."},
}


def status_for(error: BaseException) -> int:
    if isinstance(error, LinkRefused | GenerationRejected | BudgetExceeded):
        return 422
    if isinstance(error, UnknownAuthor):
        return 404
    if isinstance(error, RetrievalUnavailable | GenerationUnavailable):
        return 503
    return 500


def _dependency(error: BaseException) -> str | None:
    if isinstance(error, RetrievalUnavailable):
        return "milvus"
    if isinstance(error, GenerationUnavailable):
        return "tgi"
    return None


def _describe(errors: list[dict]) -> str:
    parts = []
    for item in errors[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        details = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in error.errors()]
        return JSONResponse({"error": _describe(details), "detail": details}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    async def known(request: Request, error: Exception) -> JSONResponse:
        status = status_for(error)
        body: dict = {"error": str(error).splitlines()[0][:500] if str(error) else type(error).__name__}
        if dependency := _dependency(error):
            body["dependency"] = dependency
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSONResponse(body, status_code=status, headers=headers)

    for kind in (LinkRefused, GenerationRejected, BudgetExceeded, UnknownAuthor,
                 RetrievalUnavailable, GenerationUnavailable):
        app.add_exception_handler(kind, known)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"error": f"internal error ({type(error).__name__})"}, status_code=500)
