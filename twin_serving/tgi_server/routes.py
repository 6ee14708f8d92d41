"""TGI's routes on an ``APIRouter``: thin handlers over the app's ``Engine``."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from twin_serving.engine import Engine, GenerationResult
from twin_serving.tgi_server import streaming
from twin_serving.tgi_server.schemas import ChatRequest, GenerateRequest, Parameters

VERSION = "0.1.0"
FINGERPRINT = f"{VERSION}-native"

router = APIRouter()


@dataclass(frozen=True)
class ServerConfig:
    default_max_new_tokens: int = 20


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_config(request: Request) -> ServerConfig:
    return request.app.state.config


EngineDep = Annotated[Engine, Depends(get_engine)]
ConfigDep = Annotated[ServerConfig, Depends(get_config)]


def error_response(status: int, message: str, error_type: str) -> JSONResponse:
    """TGI's error body: ``{"error": ..., "error_type": ...}``."""
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status)


# -- /generate and friends -------------------------------------------------------------------------
def _details(result: GenerationResult, parameters: Parameters) -> dict[str, Any]:
    prefill = (
        [{"id": i, "text": t, "logprob": None} for i, t in result.prefill]
        if parameters.decoder_input_details
        else []
    )
    return {
        "finish_reason": result.finish_reason,
        "generated_tokens": len(result.tokens),
        "seed": result.seed,
        "prefill": prefill,
        "tokens": [streaming.token_json(t) for t in result.tokens],
        "top_tokens": None,
        "best_of_sequences": None,
    }


def _full_text_prefix(body: GenerateRequest) -> str:
    return body.inputs if body.parameters.return_full_text else ""


async def _complete(engine: Engine, config: ServerConfig, body: GenerateRequest) -> dict[str, Any]:
    params = body.parameters.generation(config.default_max_new_tokens)
    # Logprobs and prompt tokens cost work per token: computed only when details ask for them.
    result = await asyncio.to_thread(
        functools.partial(engine.generate, body.inputs, params, logprobs=body.parameters.details,
                          prefill=body.parameters.details and body.parameters.decoder_input_details)
    )
    out: dict[str, Any] = {"generated_text": _full_text_prefix(body) + result.text}
    if body.parameters.details:
        out["details"] = _details(result, body.parameters)
    return out


def _stream(engine: Engine, config: ServerConfig, body: GenerateRequest) -> StreamingResponse:
    params = body.parameters.generation(config.default_max_new_tokens)
    engine.validate(body.inputs, params)  # errors before the first byte get a status code
    events = streaming.tgi_events(streaming.TokenStream(engine, body.inputs, params), _full_text_prefix(body))
    return StreamingResponse(events, media_type="text/event-stream")


@router.post("/", summary="TGI compatibility route: a list, or events when stream is true")
async def compat(body: GenerateRequest, engine: EngineDep, config: ConfigDep):
    if body.stream:
        return _stream(engine, config, body)
    return JSONResponse([await _complete(engine, config, body)])  # plain JSON types: no re-encoding pass


@router.post("/generate")
async def generate(body: GenerateRequest, engine: EngineDep, config: ConfigDep):
    return JSONResponse(await _complete(engine, config, body))


@router.post("/generate_stream")
async def generate_stream(body: GenerateRequest, engine: EngineDep, config: ConfigDep):
    return _stream(engine, config, body)


# -- OpenAI's Messages API ---------------------------------------------------------------------------
@router.post("/v1/chat/completions")
async def chat(body: ChatRequest, engine: EngineDep, config: ConfigDep):
    prompt = engine.chat_prompt([m.model_dump() for m in body.messages])
    params = body.generation(config.default_max_new_tokens, engine.require().adapters)
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()),
        "model": params.adapter or engine.require().model_id, "system_fingerprint": FINGERPRINT,
    }
    if body.stream:
        engine.validate(prompt, params)
        chunks = streaming.chat_chunks(streaming.TokenStream(engine, prompt, params, logprobs=False), head)
        return StreamingResponse(chunks, media_type="text/event-stream")
    result = await asyncio.to_thread(functools.partial(engine.generate, prompt, params, logprobs=False))
    return JSONResponse({
        **head, "object": "chat.completion",
        "choices": [{
            "index": 0, "message": {"role": "assistant", "content": result.text},
            "logprobs": None, "finish_reason": streaming.chat_finish_reason(result),
        }],
        "usage": {
            "prompt_tokens": result.input_length,
            "completion_tokens": len(result.tokens),
            "total_tokens": result.input_length + len(result.tokens),
        },
    })


@router.get("/v1/models")
async def models(engine: EngineDep):
    """OpenAI's model list as vLLM writes it: the base with ``max_model_len``, then each
    resident adapter with the base as ``parent``."""
    loaded = engine.require()
    base = {"id": loaded.model_id, "object": "model", "created": 0, "owned_by": "twin",
            "root": loaded.path, "parent": None, "max_model_len": engine.max_total_tokens}
    adapters = [{**base, "id": name, "root": folder, "parent": loaded.model_id}
                for name, (folder, _) in sorted(loaded.adapters.items())]
    return {"object": "list", "data": [base, *adapters]}


# -- the server ----------------------------------------------------------------------------------------
@router.get("/info")
async def info(engine: EngineDep):
    loaded = engine.require()
    return {
        "model_id": loaded.model_id,
        "model_sha": loaded.version or None,
        "model_dtype": "torch.float32",
        "model_device_type": "cpu",
        "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": 32,
        "max_best_of": 1,
        "max_stop_sequences": 4,
        "max_input_tokens": engine.max_input_tokens,
        "max_input_length": engine.max_input_tokens,
        "max_total_tokens": engine.max_total_tokens,
        "validation_workers": 1,
        "max_client_batch_size": 1,
        "router": "twin-tgi-compatible",
        "version": VERSION,
        "sha": None,
        "docker_label": None,
        "model_version": loaded.version,
        "model_path": loaded.path,
    }


@router.get("/health")
async def health(engine: EngineDep):
    if engine.loaded is None:
        return error_response(503, "model not loaded", "unhealthy")
    return JSONResponse({})
