"""The API's app factory. The lifespan builds every client once; routers stay thin.

``create_app()`` reads the one ``Settings`` from the environment. Tests and other entry points
may pass settings and ready-made parts (an embedder, an index) instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from fastapi import Depends, FastAPI

from twin_core.settings import ServingSettings, Settings, get_settings
from twin_serving import docs, errors, web
from twin_serving.deps import require_api_key
from twin_serving.generation import Generator
from twin_serving.monitoring import Monitor
from twin_serving.request_guard import RequestGuard
from twin_serving.retriever import Retriever
from twin_serving.routers import chat, generate, health, pages
from twin_serving.service import TokenCounter, TwinService, load_tokenizer
from twin_serving.ssrf import make_url_guard
from twin_serving.throttle import FailureThrottle
from twin_serving.tracing import build_langfuse, close_langfuse
from twin_serving.web.security import RevokedSessions

log = logging.getLogger(__name__)

DESCRIPTION = """
The LLM Twin writes in its author's voice. `POST /v1/generate` runs retrieval over the author's
past writing in Milvus (self-query filters, query expansion, rerank), adds the pages you link,
and generates with the production model behind TGI. `POST /v1/chat/completions` is the same,
OpenAI-compatible. Send `Authorization: Bearer <TWIN_API_KEY>` when a key is configured.
"""


def known_authors(profiles_path) -> list[str]:
    try:
        from twin_core.profiles import load_profiles

        return [author.name for author in load_profiles(profiles_path).authors]
    except Exception as error:  # no profiles: self-query simply finds no author
        log.info("no author names for self-query: %s", error)
        return []


def served_tokenizer(settings: Settings):
    """A tokenizer for exact token counts, or None (estimates). The engine applies the chat
    template, so none is needed: only a configured folder, or locally the registry's model
    (already on disk), is loaded; a production API never downloads a model for this."""
    try:
        if settings.serving.tokenizer:
            return load_tokenizer(settings.serving.tokenizer)
        if settings.env != "local":
            return None
        from twin_serving.model_source import registry_source

        path, _ = registry_source(settings)()
        return load_tokenizer(path)
    except Exception as error:
        log.warning("no tokenizer for the served model (%s); token counts are estimates", error)
        return None


def create_app(
    settings: Settings | None = None,
    *,
    embedder=None,
    index=None,
    tokenizer=None,
    authors: Sequence[str] | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    serving: ServingSettings = settings.serving

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        import asyncio

        langfuse = build_langfuse(serving)
        tok = tokenizer if tokenizer is not None else await asyncio.to_thread(served_tokenizer, settings)
        names = list(authors) if authors is not None else known_authors(settings.profiles)
        reranker = None
        if serving.reranker_model:
            from twin_serving.rag.rerank import load_reranker

            reranker = await asyncio.to_thread(load_reranker, serving.reranker_model)
        service = TwinService(
            serving,
            retriever=Retriever(settings, embedder=embedder, index=index),
            generator=Generator(serving.tgi_url, serving.tgi_timeout_s, model=serving.engine_model),
            counter=TokenCounter(tok),
            langfuse=langfuse,
            monitor=Monitor(serving.alert_rules, serving.alert_webhook_url, serving.alert_cooldown_s),
            url_guard=make_url_guard(serving.link_allowlist),
            known_authors=names,
            query_generator=Generator(serving.query_generator_url) if serving.query_generator_url else None,
            reranker=reranker,
        )
        app.state.service = service
        try:
            yield
        finally:
            await service.monitor.drain()
            close_langfuse(langfuse)

    app = FastAPI(title="LLM Twin API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.key_throttle = FailureThrottle()
    app.state.revoked_sessions = RevokedSessions()
    # Host, credentials and body size are checked before any route reads the body.
    app.add_middleware(RequestGuard, settings=settings, key_throttle=app.state.key_throttle)
    if serving.forwarded_allow_ips:  # outermost: the guard and the page see the real scheme/client
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=serving.forwarded_allow_ips)
    errors.install(app)
    app.include_router(health.router)
    app.include_router(pages.router)
    docs.install(app)
    protected = [Depends(require_api_key)]
    app.include_router(generate.router, dependencies=protected)
    app.include_router(chat.router, dependencies=protected)
    # The page has its own login (a session cookie for the same key) and CSRF checks.
    app.include_router(web.router)
    app.mount(web.STATIC_PATH, web.static_files(), name="static")
    return app
