"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from twin_serving.deps import Service

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: Milvus and TGI are reachable",
    responses={503: {"description": "A dependency is down; `checks` says which and why."}},
)
async def ready(service: Service) -> JSONResponse:
    (milvus_ok, milvus_reason), (tgi_ok, tgi_reason) = await asyncio.gather(
        asyncio.to_thread(service.retriever.ready), service.generator.ready()
    )
    ok = milvus_ok and tgi_ok
    body = {
        "status": "ready" if ok else "unavailable",
        "checks": {"milvus": {"ok": milvus_ok, "detail": milvus_reason},
                   "tgi": {"ok": tgi_ok, "detail": tgi_reason}},
    }
    return JSONResponse(body, status_code=200 if ok else 503)
