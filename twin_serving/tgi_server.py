"""A local server that speaks TGI's HTTP API, backed by transformers on this machine.

Routes: ``POST /`` (TGI's compatibility route: a JSON list, or events with ``stream: true``),
``POST /generate``, ``POST /generate_stream``, ``POST /v1/chat/completions``, ``GET /info``,
``GET /health``. Payloads follow TGI closely enough that the ``text-generation`` client and
``huggingface_hub.InferenceClient`` work unchanged; errors are ``{"error", "error_type"}``.
It serves the registry's production model and reloads when the alias moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from twin_serving.engine import (
    Engine,
    GenerationParams,
    GenerationResult,
    GenerationValidationError,
    ModelSource,
    TokenEvent,
)

log = logging.getLogger(__name__)
VERSION = "0.1.0"


class Parameters(BaseModel):
    # Clients send fields this server ignores (adapter_id: null, watermark, ...): accept them.
    model_config = ConfigDict(extra="ignore")

    max_new_tokens: int | None = Field(None, ge=1)
    do_sample: bool = False
    temperature: float | None = Field(None, gt=0)
    top_k: int | None = Field(None, gt=0)
    top_p: float | None = Field(None, gt=0, lt=1)
    typical_p: float | None = Field(None, gt=0, lt=1)
    repetition_penalty: float | None = Field(None, gt=0)
    seed: int | None = Field(None, ge=0)
    stop: list[str] = Field(default_factory=list, max_length=4)
    truncate: int | None = Field(None, gt=0)
    return_full_text: bool | None = False
    details: bool = False
    decoder_input_details: bool = False
    best_of: int | None = Field(None, ge=1, le=1)
    top_n_tokens: int | None = None
    grammar: Any = None
    adapter_id: str | None = None


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: str = Field(min_length=1)
    parameters: Parameters = Field(default_factory=Parameters)
    stream: bool = False


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=0)
    stop: list[str] | str | None = None
    stream: bool = False


def _error(status: int, message: str, error_type: str) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status)


# One encoder for every event (json.dumps with options builds a new one per call); compact, as
# TGI writes its events.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data:" + _JSON.encode(payload).encode() + b"\n\n"


def _token_json(token: TokenEvent) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": token.logprob, "special": token.special}


def _to_params(parameters: Parameters, default_max_new_tokens: int) -> GenerationParams:
    if parameters.grammar is not None:
        raise GenerationValidationError("grammar is not supported by this server")
    if parameters.adapter_id:
        raise GenerationValidationError("adapters are not supported by this server")
    return GenerationParams(
        max_new_tokens=parameters.max_new_tokens or default_max_new_tokens,
        do_sample=parameters.do_sample,
        temperature=parameters.temperature,
        top_k=parameters.top_k,
        top_p=parameters.top_p,
        typical_p=parameters.typical_p,
        repetition_penalty=parameters.repetition_penalty,
        seed=parameters.seed,
        stop=[s for s in parameters.stop if s],
        truncate=parameters.truncate,
    )


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
        "tokens": [_token_json(t) for t in result.tokens],
        "top_tokens": None,
        "best_of_sequences": None,
    }


def _generated_text(prompt: str, result: GenerationResult, parameters: Parameters) -> str:
    return prompt + result.text if parameters.return_full_text else result.text


class _Stream:
    """Runs one generation in a worker thread and hands its tokens to the event loop."""

    def __init__(self, engine: Engine, prompt: str, params: GenerationParams, *, logprobs: bool = True):
        self.engine, self.prompt, self.params = engine, prompt, params
        self.logprobs = logprobs
        self.cancelled = threading.Event()

    async def events(self) -> AsyncIterator[list[TokenEvent | GenerationResult | Exception]]:
        """What the generation produced since the last step, oldest first: tokens, then the
        result or the error. Items that queued up while the loop was busy come out together,
        so they can go out in one write; nothing is held back waiting for more."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def on_token(token: TokenEvent) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, token)

        def work() -> None:
            try:
                outcome: Any = self.engine.generate(self.prompt, self.params, on_token, self.cancelled,
                                                    logprobs=self.logprobs)
            except Exception as error:  # handed to the consumer, which reports it
                outcome = error
            loop.call_soon_threadsafe(queue.put_nowait, outcome)

        task = loop.run_in_executor(None, work)
        try:
            while True:
                items = [await queue.get()]
                while not queue.empty():
                    items.append(queue.get_nowait())
                yield items
                if not isinstance(items[-1], TokenEvent):
                    break
        finally:
            self.cancelled.set()  # the client went away: stop generating
            await asyncio.shield(task)


def create_tgi_app(
    source: ModelSource,
    *,
    max_input_tokens: int = 0,
    default_max_new_tokens: int = 20,
    reload_interval_s: float = 10.0,
) -> FastAPI:
    engine = Engine(source, max_input_tokens=max_input_tokens)

    async def watch_alias() -> None:
        while True:
            await asyncio.sleep(reload_interval_s)
            try:
                if await asyncio.to_thread(engine.reload_if_changed):
                    log.info("now serving %s", engine.require().model_id)
            except Exception:  # keep serving the loaded model; try again next tick
                log.exception("model reload failed")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.to_thread(engine.load)
        watcher = asyncio.create_task(watch_alias()) if reload_interval_s > 0 else None
        yield
        if watcher:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    app = FastAPI(title="Twin TGI-compatible server", version=VERSION, lifespan=lifespan)
    app.state.engine = engine

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}", "validation")

    @app.exception_handler(GenerationValidationError)
    async def rejected(request: Request, error: GenerationValidationError) -> JSONResponse:
        return _error(422, str(error), "validation")

    async def complete(body: GenerateRequest) -> GenerationResult:
        params = _to_params(body.parameters, default_max_new_tokens)
        # Logprobs and prompt tokens cost work per token: computed only when details ask for them.
        return await asyncio.to_thread(
            functools.partial(engine.generate, body.inputs, params, logprobs=body.parameters.details,
                              prefill=body.parameters.details and body.parameters.decoder_input_details)
        )

    def generated(body: GenerateRequest, result: GenerationResult) -> dict[str, Any]:
        out: dict[str, Any] = {"generated_text": _generated_text(body.inputs, result, body.parameters)}
        if body.parameters.details:
            out["details"] = _details(result, body.parameters)
        return out

    def stream_response(body: GenerateRequest) -> StreamingResponse:
        params = _to_params(body.parameters, default_max_new_tokens)
        engine.validate(body.inputs, params)  # errors before the first byte get a status code

        async def events() -> AsyncIterator[bytes]:
            index = 0
            previous: dict[str, Any] = {}
            async for items in _Stream(engine, body.inputs, params).events():
                out: list[bytes] = []
                for item in items:
                    if isinstance(item, TokenEvent):
                        index += 1
                        # Hold each token back one step so the last one can carry the details.
                        if previous:
                            out.append(_sse(previous))
                        previous = {
                            "index": index, "token": _token_json(item), "top_tokens": None,
                            "generated_text": None, "details": None,
                        }
                    elif isinstance(item, GenerationResult):
                        final = previous or {
                            "index": 0, "token": {"id": 0, "text": "", "logprob": None, "special": True},
                            "top_tokens": None,
                        }
                        final["generated_text"] = _generated_text(body.inputs, item, body.parameters)
                        final["details"] = {
                            "finish_reason": item.finish_reason,
                            "generated_tokens": len(item.tokens),
                            "seed": item.seed,
                            "input_length": item.input_length,
                        }
                        out.append(_sse(final))
                    else:
                        error_type = "validation" if isinstance(item, GenerationValidationError) else "generation"
                        out.append(_sse({"error": str(item), "error_type": error_type}))
                if out:
                    yield b"".join(out)

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/", summary="TGI compatibility route: a list, or events when stream is true")
    async def compat(body: GenerateRequest):
        if body.stream:
            return stream_response(body)
        result = await complete(body)
        return JSONResponse([generated(body, result)])  # plain JSON types: no re-encoding pass

    @app.post("/generate")
    async def generate(body: GenerateRequest):
        result = await complete(body)
        return JSONResponse(generated(body, result))

    @app.post("/generate_stream")
    async def generate_stream(body: GenerateRequest):
        return stream_response(body)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        prompt = engine.chat_prompt([m.model_dump() for m in body.messages])
        stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
        params = GenerationParams(
            max_new_tokens=body.max_tokens or default_max_new_tokens,
            temperature=body.temperature or None,
            do_sample=bool(body.temperature),
            top_p=body.top_p if body.top_p and body.top_p < 1 else None,
            seed=body.seed,
            stop=stop,
        )
        model_id = engine.require().model_id
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.stream:
            result = await asyncio.to_thread(functools.partial(engine.generate, prompt, params, logprobs=False))
            finish = "length" if result.finish_reason == "length" else "stop"
            return JSONResponse({
                "id": completion_id, "object": "chat.completion", "created": created,
                "model": model_id, "system_fingerprint": f"{VERSION}-native",
                "choices": [{
                    "index": 0, "message": {"role": "assistant", "content": result.text},
                    "logprobs": None, "finish_reason": finish,
                }],
                "usage": {
                    "prompt_tokens": result.input_length,
                    "completion_tokens": len(result.tokens),
                    "total_tokens": result.input_length + len(result.tokens),
                },
            })
        engine.validate(prompt, params)

        async def chunks() -> AsyncIterator[bytes]:
            def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
                return _sse({
                    "id": completion_id, "object": "chat.completion.chunk", "created": created,
                    "model": model_id, "system_fingerprint": f"{VERSION}-native",
                    "choices": [{"index": 0, "delta": {"role": "assistant", **delta},
                                 "logprobs": None, "finish_reason": finish}],
                })

            async for items in _Stream(engine, prompt, params, logprobs=False).events():
                out: list[bytes] = []
                for item in items:
                    if isinstance(item, TokenEvent):
                        if not item.special:
                            out.append(chunk({"content": item.text}, None))
                    elif isinstance(item, GenerationResult):
                        out.append(chunk({"content": ""}, "length" if item.finish_reason == "length" else "stop"))
                    else:
                        out.append(_sse({"error": str(item), "error_type": "generation"}))
                if out:
                    yield b"".join(out)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    @app.get("/info")
    async def info():
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

    @app.get("/health")
    async def health():
        if engine.loaded is None:
            return _error(503, "model not loaded", "unhealthy")
        return JSONResponse({})

    return app
