"""The API's app factory. The lifespan builds every client once; routers stay thin.

``create_app()`` reads ``ServingSettings`` from the environment. Tests and other entry points
may pass settings and ready-made parts (an embedder, an index) instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from fastapi import Depends, FastAPI

from twin_serving import errors, web
from twin_serving.deps import require_api_key
from twin_serving.generation import Generator
from twin_serving.monitoring import Monitor
from twin_serving.retriever import Retriever
from twin_serving.routers import chat, generate, health
from twin_serving.service import TokenCounter, TwinService, load_tokenizer
from twin_serving.settings import ServingSettings, get_serving_settings
from twin_serving.ssrf import make_url_guard
from twin_serving.tracing import build_langfuse, close_langfuse

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


def served_tokenizer(settings: ServingSettings):
    """The served model's tokenizer (token budget, chat template), or None with a warning."""
    try:
        if settings.tokenizer:
            return load_tokenizer(settings.tokenizer)
        from twin_serving.model_source import registry_source

        path, _ = registry_source()()
        return load_tokenizer(path)
    except Exception as error:
        log.warning("no tokenizer for the served model (%s); token counts are estimates", error)
        return None


def create_app(
    settings: ServingSettings | None = None,
    *,
    embedder=None,
    index=None,
    tokenizer=None,
    authors: Sequence[str] | None = None,
) -> FastAPI:
    settings = settings or get_serving_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        import asyncio

        from twin_resources.settings import get_settings

        langfuse = build_langfuse(settings)
        tok = tokenizer if tokenizer is not None else await asyncio.to_thread(served_tokenizer, settings)
        names = list(authors) if authors is not None else known_authors(get_settings().profiles)
        reranker = None
        if settings.reranker_model:
            from twin_serving.rag.rerank import load_reranker

            reranker = await asyncio.to_thread(load_reranker, settings.reranker_model)
        service = TwinService(
            settings,
            retriever=Retriever(settings, embedder=embedder, index=index),
            generator=Generator(settings.tgi_url, settings.tgi_timeout_s),
            counter=TokenCounter(tok),
            langfuse=langfuse,
            monitor=Monitor(settings.alert_rules, settings.alert_webhook_url, settings.alert_cooldown_s),
            url_guard=make_url_guard(settings.link_allowlist),
            known_authors=names,
            query_generator=Generator(settings.query_generator_url) if settings.query_generator_url else None,
            reranker=reranker,
        )
        app.state.service = service
        try:
            yield
        finally:
            await service.monitor.drain()
            close_langfuse(langfuse)

    app = FastAPI(title="LLM Twin API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    errors.install(app)
    app.include_router(health.router)
    protected = [Depends(require_api_key)]
    app.include_router(generate.router, dependencies=protected)
    app.include_router(chat.router, dependencies=protected)
    # The page has its own login (a session cookie for the same key) and CSRF checks.
    app.include_router(web.router)
    return app
