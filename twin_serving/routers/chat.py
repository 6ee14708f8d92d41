"""``POST /v1/chat/completions``: OpenAI-compatible, so any OpenAI client can talk to the twin.

The last user message is the request (RAG runs on it); earlier turns are kept as conversation.
Responses carry a ``sources`` extension field that OpenAI clients ignore.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from twin_serving.deps import Service
from twin_serving.errors import ERROR_RESPONSES, status_for
from twin_serving.routers.generate import run
from twin_serving.schemas import ChatCompletionRequest
from twin_serving.service import Answer, TwinRequest

router = APIRouter(prefix="/v1", tags=["openai"])
MODEL_NAME = "llm-twin"
# ``model: "twin/<author>"`` asks for that author's twin; any other model name (or none) leaves
# the choice to the request's text, or to the only twin there is.
TWIN_MODEL_PREFIX = "twin/"


def author_of(model: str | None) -> str | None:
    if model and model.startswith(TWIN_MODEL_PREFIX) and model[len(TWIN_MODEL_PREFIX):].strip():
        return model[len(TWIN_MODEL_PREFIX):].strip()
    return None


def _finish(reason: str) -> str:
    return "length" if reason == "length" else "stop"


@router.get("/models", summary="OpenAI-compatible model list: one `twin/<author>` per author")
async def models(service: Service) -> dict:
    names = [MODEL_NAME, *(f"{TWIN_MODEL_PREFIX}{a}" for a in service.known_authors)]
    return {"object": "list",
            "data": [{"id": n, "object": "model", "created": 0, "owned_by": "llm-twin"} for n in names]}


@router.post("/chat/completions", summary="OpenAI-compatible chat completion (streaming too)",
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "JSON, or server-sent events when `stream` is true."},
                        **ERROR_RESPONSES})
async def chat_completions(body: ChatCompletionRequest, service: Service):
    at = body.request_index()
    last = body.messages[at]
    history = [m.model_dump() for m in body.messages[:at] if m.role != "system"]
    request = TwinRequest(
        question=last.content.strip(), history=history,
        max_new_tokens=body.max_completion_tokens or body.max_tokens or service.settings.default_max_new_tokens,
        temperature=0.7 if body.temperature is None else body.temperature, seed=body.seed, user_id=body.user,
        author=author_of(body.model),
    )
    prepared = await run(service, request, "twin.chat")
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = prepared.model_version or MODEL_NAME
    sources = [s.model_dump() for s in prepared.sources]
    if not body.stream:
        try:
            answer = await service.complete(prepared)
        except Exception as error:
            service.fail(prepared.trace, prepared.started, error)
            raise
        done = answer.completion
        return {
            "id": completion_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "logprobs": None, "finish_reason": _finish(done.finish_reason)}],
            "usage": {"prompt_tokens": prepared.built.tokens, "completion_tokens": done.generated_tokens,
                      "total_tokens": prepared.built.tokens + done.generated_tokens},
            "sources": sources, "trace_id": answer.trace_id,
        }

    def chunk(delta: dict, finish: str | None, **extra) -> bytes:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                   "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                "finish_reason": finish}], **extra}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()

    async def events() -> AsyncIterator[bytes]:
        yield chunk({"role": "assistant", "content": ""}, None)
        try:
            async for item in service.stream(prepared):
                if isinstance(item, Answer):
                    yield chunk({}, _finish(item.completion.finish_reason), sources=sources,
                                trace_id=item.trace_id)
                else:
                    yield chunk({"content": item}, None)
        except Exception as error:
            service.fail(prepared.trace, prepared.started, error)
            message = {"error": {"message": str(error).splitlines()[0][:500],
                                 "type": "service_unavailable", "code": status_for(error)}}
            yield f"data: {json.dumps(message)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
