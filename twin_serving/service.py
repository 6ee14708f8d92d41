"""The twin's answer to one request: RAG steps, then generation, traced and monitored.

``prepare`` runs everything before generation (so a 503/422 is known before a stream starts);
``complete`` and ``stream`` generate. Each step is a plain function from ``twin_serving.rag``;
this module only sequences them, times them and records them.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from twin_core.chunking import Hit
from twin_core.settings import ServingSettings
from twin_serving.generation import Completion, GenerationUnavailable, Generator, sampling_kwargs
from twin_serving.links import fetch_links
from twin_serving.monitoring import Monitor, RequestRecord, request_scores
from twin_serving.rag import expansion, self_query
from twin_serving.rag.prompt import BuiltPrompt, SourceText, build_prompt, render_chat
from twin_serving.rag.rerank import cross_encoder_rerank, mmr
from twin_serving.retriever import Retriever
from twin_serving.schemas import Source
from twin_serving.tracing import RequestTrace

log = logging.getLogger(__name__)


class UnknownAuthor(LookupError):
    """The request names an author the API has no twin for, or names none among several."""


class BudgetExceeded(ValueError):
    """The request does not fit the model's context (a 422)."""


@dataclass
class TwinRequest:
    question: str
    links: list[str] = field(default_factory=list)
    platform: str | None = None
    author: str | None = None
    max_new_tokens: int = 256
    temperature: float = 0.7
    seed: int | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    session_id: str | None = None
    user_id: str | None = None


@dataclass
class Prepared:
    request: TwinRequest
    trace: RequestTrace
    started: float
    built: BuiltPrompt
    sources: list[Source]
    hits: int
    warnings: list[str]
    model_version: str
    author: str | None = None
    max_new_tokens: int = 256  # what the answer may take: the request's, capped to the model


@dataclass
class Answer:
    text: str
    sources: list[Source]
    model_version: str
    trace_id: str
    warnings: list[str]
    completion: Completion


class TokenCounter:
    """Token counts with the served model's tokenizer (an estimate when none is available).

    A fast tokenizer is counted through its own copy of the Rust tokenizer with truncation and
    padding off: the same ids as ``tokenizer(text, add_special_tokens=False)``, without the
    per-call Python wrapping or offsets, and safe from threads (the wrapper re-configures
    truncation on every call).
    """

    def __init__(self, tokenizer=None):
        self.tokenizer = tokenizer
        self._encoder = _plain_encoder(tokenizer)
        # The prompt just counted is rendered again for TGI: keep the last rendering.
        self._last_render: tuple[tuple[tuple[str, str], ...], str] | None = None
        self.chars_per_token: float | None = None  # of the last prompt counted (a hint)

    def text(self, text: str) -> int:
        if self._encoder is not None:
            # The batch call without offsets: faster than ``encode``, and it releases the GIL.
            return len(self._encoder.encode_batch_fast([text], add_special_tokens=False)[0])
        if self.tokenizer is None:
            return len(text) // 3 + 1
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, messages: list[dict[str, str]]) -> str:
        key = tuple((m["role"], m["content"]) for m in messages)
        last = self._last_render
        if last is not None and last[0] == key:
            return last[1]
        text = render_chat(self.tokenizer, messages)
        self._last_render = (key, text)
        return text

    def prompt(self, messages: list[dict[str, str]]) -> int:
        text = self.render(messages)
        tokens = self.text(text)
        if tokens:
            self.chars_per_token = sum(len(m["content"]) for m in messages) / tokens
        return tokens


def _plain_encoder(tokenizer):
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        encoder = copy.deepcopy(backend)
        encoder.no_truncation()
        encoder.no_padding()
        encoder.encode_batch_fast(["probe"], add_special_tokens=False)
    except Exception:  # an unusual backend: count through the tokenizer itself
        log.debug("no plain encoder for %s", type(tokenizer).__name__, exc_info=True)
        return None
    return encoder


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


class TwinService:
    def __init__(
        self,
        settings: ServingSettings,
        *,
        retriever: Retriever,
        generator: Generator,
        counter: TokenCounter,
        langfuse=None,
        monitor: Monitor | None = None,
        url_guard: Callable[[str], None],
        known_authors: Sequence[str] = (),
        query_generator: Generator | None = None,
        reranker=None,
    ):
        self.settings = settings
        self.retriever = retriever
        self.generator = generator
        self.counter = counter
        self.langfuse = langfuse
        self.monitor = monitor or Monitor(settings.alert_rules)
        self.url_guard = url_guard
        self.known_authors = list(known_authors)
        self.query_generator = query_generator
        self.reranker = reranker
        self._info: dict[str, Any] | None = None
        self._info_at = 0.0
        self._resident: set[str] = set()  # adapter names the engine lists, read with its /info

    # -- the served model ---------------------------------------------------------------------
    async def model_info(self) -> dict[str, Any]:
        """TGI's /info, cached briefly (it changes only when the production model moves)."""
        if self._info is None or time.monotonic() - self._info_at > 30:
            self._info = await self.generator.info()
            self._resident = await self.generator.resident_adapters()
            self._info_at = time.monotonic()
        return self._info

    @staticmethod
    def model_version(info: dict[str, Any]) -> str:
        return str(info.get("model_version") or info.get("model_sha") or info.get("model_id") or "")

    @staticmethod
    def answer_tokens(info: dict[str, Any], requested: int) -> int:
        """The answer's token limit: what was asked, capped at half the model's window, so a
        model with a small window writes a shorter answer instead of refusing a valid request."""
        total = info.get("max_total_tokens")
        return min(requested, max(1, int(total) // 2)) if total else requested

    def budget(self, info: dict[str, Any], max_new_tokens: int) -> int:
        limits = [int(v) for v in (self.settings.max_input_tokens,
                                   info.get("max_input_tokens") or info.get("max_input_length"))
                  if v]
        if info.get("max_total_tokens"):
            limits.append(int(info["max_total_tokens"]) - max_new_tokens)
        budget = min(limits) if limits else 2048
        if budget <= 0:
            raise BudgetExceeded(
                f"max_new_tokens={max_new_tokens} leaves no room for the prompt "
                f"(the model takes {info.get('max_total_tokens')} tokens in all)"
            )
        return budget

    # -- steps ----------------------------------------------------------------------------------
    async def _llm(self, prompt: str, max_new_tokens: int) -> str | None:
        if self.query_generator is None:
            return None
        try:
            messages = [{"role": "user", "content": prompt}]
            return (await self.query_generator.generate(messages, **sampling_kwargs(max_new_tokens, 0))).text
        except Exception as error:  # the rule-based default still answers
            log.warning("query generator failed, using rules: %s", error)
            return None

    async def filters(self, request: TwinRequest, trace: RequestTrace) -> self_query.QueryFilters:
        explicit = self_query.QueryFilters(author=request.author)
        with trace.step("self-query", input=request.question) as step:
            found = raw = None
            if self.query_generator is not None:
                raw = await self._llm(self_query.LLM_PROMPT.format(
                    authors=", ".join(self.known_authors) or "unknown", prompt=request.question), 64)
            if raw is not None:
                found = self_query.parse_llm_filters(raw, self.known_authors)
            method = "llm" if found is not None else "rules"
            if found is None:
                found = self_query.extract_filters(request.question, self.known_authors)
            filters = replace(self_query.merge(explicit, found), author=self.author_for(request, found))
            step.update(output=filters.as_dict(), metadata={"method": method})
        return filters

    def author_for(self, request: TwinRequest, found: self_query.QueryFilters) -> str | None:
        """Whose twin answers, and so whose chunks alone are searched: the one named by the
        request, else the one the prompt names, else the only one there is."""
        known = self.known_authors
        if request.author:
            match = next((a for a in known if a.casefold() == request.author.casefold()), None)
            if known and match is None:
                raise UnknownAuthor(
                    f"there is no twin of {request.author!r}: ask one of {', '.join(known)}, "
                    "or add the author to the profiles and collect their writing first")
            return match or request.author
        if found.author:
            return found.author
        if len(known) == 1:
            return known[0]
        if len(known) > 1:
            raise UnknownAuthor(f"several twins are served: name the author ({', '.join(known)})")
        return None

    async def variants(self, request: TwinRequest, trace: RequestTrace) -> list[str]:
        n = self.settings.query_variants
        with trace.step("query-expansion", input=request.question) as step:
            queries = None
            if n > 1 and self.query_generator is not None:
                raw = await self._llm(expansion.LLM_PROMPT.format(count=n - 1, query=request.question), 96)
                if raw is not None:
                    queries = expansion.parse_llm_variants(raw, request.question, n)
            method = "llm" if queries else "rules"
            queries = queries or expansion.expand(request.question, n)
            step.update(output=queries, metadata={"method": method})
        return queries

    def _search_and_vectors(self, queries: list[str], expr: str | None):
        """Blocking: the batched search and, for MMR, the hits' vectors (one thread hop; the
        search returns the vectors with the hits, so no second round trip to Milvus)."""
        mmr_needs_vectors = self.reranker is None
        result = self.retriever.search(queries, self.settings.per_query_k, expr,
                                       with_vectors=mmr_needs_vectors)
        vectors = None
        if self.reranker is None and result.hits:
            vectors = self.retriever.vectors_for(result.hits)
        return result, vectors

    async def retrieve(self, queries: list[str], filters, trace: RequestTrace):
        expr = filters.expression()
        with trace.step("retrieval", as_type="retriever",
                        input={"queries": queries, "filter": expr}) as step:
            result, vectors = await asyncio.to_thread(self._search_and_vectors, queries, expr)
            step.update(
                output=[{"id": h.id, "url": h.url, "score": round(h.score, 4)} for h in result.hits],
                metadata={"per_query_hits": result.per_query_counts,
                          "embedding_model": self.retriever.embedding_model},
            )
        return result, vectors

    async def rerank(self, question: str, retrieval, vectors, trace: RequestTrace) -> list[Hit]:
        k = self.settings.top_k
        hits = retrieval.hits
        method = "cross-encoder" if self.reranker is not None else "mmr"
        with trace.step("rerank", input={"candidates": len(hits), "method": method}) as step:
            if not hits:
                chosen: list[Hit] = []
            elif self.reranker is not None:
                chosen = await asyncio.to_thread(cross_encoder_rerank, self.reranker, question, hits, k)
            else:
                chosen = mmr(hits, retrieval.query_vectors[0], vectors, k, self.settings.mmr_lambda)
            step.update(output=[{"id": h.id, "score": round(h.score, 4)} for h in chosen])
        return chosen

    async def links(self, request: TwinRequest, trace: RequestTrace):
        with trace.step("links", input=request.links) as step:
            fetched = await fetch_links(
                request.links, self.url_guard, author=request.author,
                max_bytes=self.settings.link_max_bytes, timeout_s=self.settings.link_timeout_s,
                max_redirects=self.settings.link_max_redirects,
            )
            step.update(output=[s.url for s in fetched.sources], metadata={"warnings": fetched.warnings})
        return fetched

    # -- the request ----------------------------------------------------------------------------
    def start_trace(self, name: str, request: TwinRequest) -> RequestTrace:
        metadata = {"embedding_model": self.retriever.embedding_model or "unknown"}
        if self._info:
            metadata["model_version"] = self.model_version(self._info)
        return RequestTrace(
            self.langfuse, name,
            input={"prompt": request.question, "links": request.links, "platform": request.platform},
            user_id=request.user_id, session_id=request.session_id, metadata=metadata,
        )

    async def prepare(self, request: TwinRequest, trace: RequestTrace) -> Prepared:
        started = time.perf_counter()
        info = await self.model_info()
        max_new_tokens = self.answer_tokens(info, request.max_new_tokens)
        budget = self.budget(info, max_new_tokens)
        links_task = asyncio.create_task(self.links(request, trace)) if request.links else None
        try:
            if self.query_generator is not None:  # two LLM calls: side by side, not in turn
                filters, queries = await asyncio.gather(self.filters(request, trace),
                                                        self.variants(request, trace))
            else:
                filters = await self.filters(request, trace)
                queries = await self.variants(request, trace)
            retrieval, vectors = await self.retrieve(queries, filters, trace)
            chosen = await self.rerank(request.question, retrieval, vectors, trace)
            fetched = await links_task if links_task else None
        except BaseException:
            if links_task:
                links_task.cancel()
            raise
        link_sources = fetched.sources if fetched else []
        warnings = list(fetched.warnings) if fetched else []
        if max_new_tokens < request.max_new_tokens:
            warnings.append(f"The answer is limited to {max_new_tokens} tokens: the model takes "
                            f"{info['max_total_tokens']} tokens in all, the prompt included.")
        past = [SourceText("past", h.url, h.title, h.text) for h in chosen]
        author = filters.author
        with trace.step("prompt", input={"sources": len(link_sources) + len(past),
                                         "budget": budget}) as step:
            try:
                built = build_prompt(
                    request.question, [*link_sources, *past],
                    count_prompt=self.counter.prompt, count_text=self.counter.text,
                    budget=budget, author=author, platform=request.platform,
                    history=request.history, chars_per_token=self.counter.chars_per_token,
                )
            except ValueError as error:
                raise BudgetExceeded(str(error)) from error
            step.update(output={"tokens": built.tokens, "used": len(built.used), "dropped": built.dropped})
        scores = {id(s): h.score for s, h in zip(past, chosen, strict=True)}
        sources = [
            Source(kind=s.kind, url=s.url, title=s.title,
                   score=round(scores.get(id(s), 1.0), 4), snippet=_snippet(s.text))
            for s in built.used
        ]
        return Prepared(
            request, trace, started, built, sources,
            hits=len(retrieval.hits), warnings=warnings,
            model_version=self.model_version(info), author=author, max_new_tokens=max_new_tokens,
        )

    def adapter(self, prepared: Prepared) -> str | None:
        """The author's LoRA adapter on the engine: the one ``TWIN_ENGINE_ADAPTERS`` names for the
        author's name or slug (Kubernetes sets it by slug), else ``twin-<author slug>`` when the
        engine lists it (``twin serve-model --adapters-from-registry`` keeps every author's
        resident under that name), else the engine's default model (with one author: their
        merged twin)."""
        author = prepared.author or ""
        if not author:
            return None
        from twin_core.authors import author_slug
        from twin_serving.model_source import adapter_name

        slug = author_slug(author)
        configured = self.settings.engine_adapters.get(author) or self.settings.engine_adapters.get(slug)
        if configured:
            return configured
        name = adapter_name(slug)
        return name if name in self._resident else None

    def _generation_fields(self, prepared: Prepared) -> dict[str, Any]:
        r = prepared.request
        return {
            "model": prepared.model_version,
            "model_parameters": {"max_new_tokens": prepared.max_new_tokens, "temperature": r.temperature},
            "input": prepared.built.messages,
        }

    async def complete(self, prepared: Prepared) -> Answer:
        r = prepared.request
        with prepared.trace.step("generation", as_type="generation",
                                 **self._generation_fields(prepared)) as step:
            completion = await self.generator.generate(
                prepared.built.messages, adapter=self.adapter(prepared),
                **sampling_kwargs(prepared.max_new_tokens, r.temperature, r.seed))
            step.update(output=completion.text, usage_details={
                "input": prepared.built.tokens, "output": completion.generated_tokens})
        return self.finish(prepared, completion)

    async def stream(self, prepared: Prepared) -> AsyncIterator[str | Answer]:
        """Text pieces as they come, then the ``Answer``."""
        r = prepared.request
        step = prepared.trace.start("generation", as_type="generation",
                                    **self._generation_fields(prepared))
        final: Completion | None = None
        pieces: list[str] = []
        first_token_at = None
        try:
            async for piece in self.generator.stream(
                prepared.built.messages, adapter=self.adapter(prepared),
                **sampling_kwargs(prepared.max_new_tokens, r.temperature, r.seed)
            ):
                if piece.text:
                    if first_token_at is None:
                        from datetime import UTC, datetime

                        first_token_at = datetime.now(UTC)
                        step.update(completion_start_time=first_token_at)
                    pieces.append(piece.text)
                    yield piece.text
                if piece.final is not None:
                    final = piece.final
            if final is None:
                raise GenerationUnavailable("the generation stream ended without its final event")
            step.update(output=final.text, usage_details={
                "input": prepared.built.tokens, "output": final.generated_tokens})
        except BaseException as error:
            step.update(level="ERROR", status_message=f"{type(error).__name__}: {error}"[:500])
            raise
        finally:
            step.end()
        yield self.finish(prepared, final)

    def finish(self, prepared: Prepared, completion: Completion) -> Answer:
        text = completion.text.strip()
        record = RequestRecord(
            latency_s=time.perf_counter() - prepared.started, hits=prepared.hits,
            answer_chars=len(text), prompt_tokens=prepared.built.tokens,
            completion_tokens=completion.generated_tokens, trace_id=prepared.trace.trace_id,
        )
        self.observe(prepared.trace, record)
        answer = Answer(text, prepared.sources, prepared.model_version, prepared.trace.trace_id,
                        prepared.warnings, completion)
        prepared.trace.finish(output={"text": text, "sources": [s.url for s in answer.sources]})
        return answer

    def fail(self, trace: RequestTrace, started: float, error: BaseException) -> None:
        """Record a request that failed on our side or a dependency's (not bad input)."""
        self.observe(trace, RequestRecord(latency_s=time.perf_counter() - started, error=True,
                                          trace_id=trace.trace_id))
        trace.finish(error=f"{type(error).__name__}: {error}")

    def observe(self, trace: RequestTrace, record: RequestRecord) -> None:
        if not record.error:
            for name, value in request_scores(record).items():
                trace.score(name, value)
        try:
            self.monitor.record(record)
        except Exception:
            log.exception("monitoring failed")


def _snippet(text: str, chars: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"
