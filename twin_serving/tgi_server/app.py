"""A local server that speaks TGI's HTTP API, backed by transformers on this machine.

Routes (``routes.py``): ``POST /`` (TGI's compatibility route: a JSON list, or events with
``stream: true``), ``POST /generate``, ``POST /generate_stream``, ``POST /v1/chat/completions``,
``GET /info``, ``GET /health``. Payloads follow TGI closely enough that the ``text-generation``
client and ``huggingface_hub.InferenceClient`` work unchanged; errors are
``{"error", "error_type"}``. It serves the registry's production model and reloads when the
alias moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from twin_serving.engine import (
    AdapterSource,
    Engine,
    GenerationValidationError,
    ModelNotLoaded,
    ModelSource,
)
from twin_serving.tgi_server.routes import VERSION, ServerConfig, error_response, router

log = logging.getLogger(__name__)


async def _watch_alias(engine: Engine, interval_s: float) -> None:
    """Reload when the source names another version, and add/swap/drop adapters as the
    adapter source says (the base stays); keep serving what is loaded on failure."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            if await asyncio.to_thread(engine.reload_if_changed):
                log.info("now serving %s", engine.require().model_id)
            elif changed := await asyncio.to_thread(engine.sync_adapters):
                log.info("adapters now %s (changed: %s)", sorted(engine.require().adapters), changed)
        except Exception:  # keep serving the loaded model; try again next tick
            log.exception("model reload failed")


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_response(422, f"{where}: {first.get('msg', 'invalid request')}", "validation")

    @app.exception_handler(GenerationValidationError)
    async def rejected(request: Request, error: GenerationValidationError) -> JSONResponse:
        return error_response(422, str(error), "validation")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail), "http")

    @app.exception_handler(ModelNotLoaded)
    async def loading(request: Request, error: ModelNotLoaded) -> JSONResponse:
        return error_response(503, "The model is still loading: try again in a moment.", "unhealthy")

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        log.exception("generation failed on %s", request.url.path)
        return error_response(500, f"Generation failed ({type(error).__name__}): see the server log.",
                              "generation")


def create_tgi_app(
    source: ModelSource,
    *,
    max_input_tokens: int = 0,
    default_max_new_tokens: int = 20,
    reload_interval_s: float = 10.0,
    adapters: AdapterSource | None = None,
) -> FastAPI:
    """``adapters``: the LoRA adapters to keep resident on the one base, re-read every
    ``reload_interval_s``; a request picks one by ``adapter_id`` (TGI) or ``model`` (OpenAI)."""
    engine = Engine(source, max_input_tokens=max_input_tokens, adapters=adapters)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.to_thread(engine.load)
        watcher = asyncio.create_task(_watch_alias(engine, reload_interval_s)) if reload_interval_s > 0 else None
        yield
        if watcher:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    app = FastAPI(title="Twin TGI-compatible server", version=VERSION, lifespan=lifespan)
    app.state.engine = engine
    app.state.config = ServerConfig(default_max_new_tokens=default_max_new_tokens)
    _install_errors(app)
    app.include_router(router)
    return app
