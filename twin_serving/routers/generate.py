"""``POST /v1/generate``: the twin writes, with the sources it used.

Streaming contract (``stream: true``), as server-sent events:

- ``event: token`` with ``data: {"text": "<piece>"}`` for each generated piece, in order;
- then exactly one ``event: done`` whose data is the full ``GenerateResponse`` (text, sources,
  model_version, trace_id, warnings);
- or, if generation fails midway, one ``event: error`` with ``data: {"error", "status"}``.

Errors before the stream starts (bad input, API key, Milvus/TGI down) are ordinary JSON responses
with their status code.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from twin_serving.deps import Service
from twin_serving.errors import ERROR_RESPONSES, status_for
from twin_serving.schemas import GenerateRequest, GenerateResponse
from twin_serving.service import Answer, TwinRequest, TwinService

router = APIRouter(prefix="/v1", tags=["twin"])


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def to_response(answer: Answer) -> GenerateResponse:
    return GenerateResponse(
        text=answer.text, sources=answer.sources, model_version=answer.model_version,
        trace_id=answer.trace_id, warnings=answer.warnings,
    )


async def run(service: TwinService, request: TwinRequest, name: str):
    """Prepare (RAG) under a trace; failures are recorded, then re-raised for the handlers."""
    import time

    trace = service.start_trace(name, request)
    started = time.perf_counter()
    try:
        return await service.prepare(request, trace)
    except Exception as error:
        if status_for(error) >= 500:
            service.fail(trace, started, error)
        else:
            trace.finish(error=f"{type(error).__name__}: {error}")
        raise


@router.post(
    "/generate",
    response_model=GenerateResponse,
    summary="Write in the author's voice, from their past content and the given links",
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "JSON, or server-sent events when `stream` is true."},
               **ERROR_RESPONSES},
)
async def generate(body: GenerateRequest, service: Service):
    request = TwinRequest(
        question=body.prompt.strip(), links=[str(u) for u in body.links], platform=body.platform,
        author=body.author, max_new_tokens=body.max_new_tokens, temperature=body.temperature,
        seed=body.seed, session_id=body.session_id, user_id=body.user_id,
    )
    prepared = await run(service, request, "twin.generate")
    if not body.stream:
        try:
            return to_response(await service.complete(prepared))
        except Exception as error:
            service.fail(prepared.trace, prepared.started, error)
            raise

    async def events() -> AsyncIterator[bytes]:
        try:
            async for item in service.stream(prepared):
                if isinstance(item, Answer):
                    yield sse("done", to_response(item).model_dump())
                else:
                    yield sse("token", {"text": item})
        except Exception as error:
            service.fail(prepared.trace, prepared.started, error)
            yield sse("error", {"error": str(error).splitlines()[0][:500], "status": status_for(error)})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Trace-Id": prepared.trace.trace_id})
