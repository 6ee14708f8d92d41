"""Instruction generators behind one interface: ``generate(documents) -> list[Example]``.

``offline`` (the default) is deterministic and needs nothing: it derives the instruction from
the document itself. ``llm`` asks any OpenAI-compatible chat endpoint (TGI's Messages API,
vLLM, OpenAI) to write instructions for each extract of the author's text. Either way the answer is the author's text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from twin_core.datasets.concurrency import (
    RetryableError,
    RetryPolicy,
    call_with_retries,
    map_bounded,
)
from twin_core.datasets.examples import Example
from twin_core.datasets.llm_reply import instruction_messages, parse_instructions, response_format
from twin_core.datasets.response_cache import ResponseCache, cache_key
from twin_core.datasets.token_budget import TokenCounter, token_sections
from twin_core.documents import Document

__all__ = ["InstructionGenerator", "LLMGenerator", "OfflineGenerator", "make_generator", "parse_instructions"]

PLATFORM_NAMES = {
    "linkedin": "LinkedIn", "medium": "Medium", "substack": "Substack", "github": "GitHub", "web": "blog",
}


class InstructionGenerator(Protocol):
    name: str

    def settings(self) -> dict[str, Any]: ...
    def generate(self, documents: Iterable[Document]) -> list[Example]: ...


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\S+")


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def sections(text: str, target_chars: int) -> list[str]:
    """Consecutive paragraphs grouped into sections of about ``target_chars`` (never split a paragraph)."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for paragraph in paragraphs(text):
        if current and size + len(paragraph) > target_chars:
            out.append("\n\n".join(current))
            current, size = [], 0
        current.append(paragraph)
        size += len(paragraph) + 2
    if current:
        out.append("\n\n".join(current))
    return out


def topic_of(document: Document, max_words: int = 12) -> str:
    """The title, or for untitled posts the first sentence, shortened to ``max_words``."""
    text = document.title.strip() or _SENTENCE_END.split(document.content.strip(), maxsplit=1)[0]
    text = re.sub(r"^#+\s*", "", text.splitlines()[0] if text else "")
    words = _WORD.findall(text)
    topic = " ".join(words[:max_words]).rstrip(".:;,!?")
    return topic + ("..." if len(words) > max_words else "")


@dataclass
class OfflineGenerator:
    """Instructions derived from the documents themselves; deterministic.

    posts -> "Write a <platform> post about <topic>." -> the post;
    articles -> "Write the opening of an article titled ..." -> first section, then
    "Continue this article ..." with the previous section -> the next section;
    repositories -> "Describe your project <name>." -> the author's description.
    """

    section_chars: int = 1200
    name: str = "offline"

    def settings(self) -> dict[str, Any]:
        return {"section_chars": self.section_chars}

    def generate(self, documents: Iterable[Document]) -> list[Example]:
        examples: list[Example] = []
        for doc in documents:
            examples.extend(self._for_document(doc))
        return examples

    def _example(self, doc: Document, instruction: str, answer: str, task: str) -> Example:
        return Example(
            instruction=instruction, answer=answer.strip(), document_id=doc.id,
            document_hash=doc.content_hash, platform=doc.platform, category=doc.category, task=task,
        )

    def _for_document(self, doc: Document) -> list[Example]:
        where = PLATFORM_NAMES.get(doc.platform, doc.platform)
        if not doc.content.strip():
            return []
        if doc.category == "post":
            return [self._example(doc, f"Write a {where} post about {topic_of(doc)}.", doc.content, "write_post")]
        if doc.category == "repository":
            return [self._example(doc, f"Describe your project {doc.title or topic_of(doc)}.", doc.content, "describe_repository")]
        parts = sections(doc.content, self.section_chars)
        title = doc.title or topic_of(doc)
        out = [self._example(doc, f"Write the opening of a {where} article titled \"{title}\".", parts[0], "open_article")]
        for previous, following in zip(parts, parts[1:], strict=False):
            instruction = f"Continue this {where} article titled \"{title}\":\n\n{previous}"
            out.append(self._example(doc, instruction, following, "continue_article"))
        return out


class InstructionGenerationError(RuntimeError):
    """No extract got instructions: nothing to build a dataset from."""


class EndpointError(Exception):
    """A call to the instruction LLM that failed for good; the message is the report's line."""


@dataclass
class LLMReport:
    """What one ``generate`` did: the asset shows it, failures one line each."""

    extracts: int = 0
    cached: int = 0
    asked: int = 0
    failed: list[str] = field(default_factory=list)
    over_budget_pieces: int = 0
    response_format: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "extracts": self.extracts, "cached": self.cached, "asked": self.asked,
            "failed": len(self.failed), "over_budget_pieces": self.over_budget_pieces,
            "response_format": self.response_format,
        }


@dataclass
class LLMGenerator:
    """Instructions per extract from an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    The model writes only the instructions; the answer stays the author's extract, cut to at
    most ``extract_tokens`` tokens of the base model (``count_tokens``), so training never
    truncates it. Calls run ``max_concurrency`` at a time, each retried with backoff; replies
    are cached by (extract, prompt, model) in ``cache``, so an unchanged corpus gives the same
    rows. An extract whose call fails for good is a line in ``report.failed``; only when every
    extract fails does ``generate`` raise. The model is asked for ``pairs_per_extract``
    instructions and at most ``max_rows_per_extract`` become rows: an extract never weighs more
    than that many examples against another extract or a one-row post.
    """

    base_url: str
    count_tokens: TokenCounter | None = field(default=None, repr=False)
    model: str = "tgi"
    api_key: str = field(default="", repr=False)
    pairs_per_extract: int = 3
    max_rows_per_extract: int = 2
    extract_tokens: int = 384
    max_instruction_tokens: int = 96
    temperature: float = 0.7
    max_tokens: int = 0
    response_format: str = "json_schema"
    max_concurrency: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 60.0
    cache: ResponseCache | None = field(default=None, repr=False)
    client: Any = field(default=None, repr=False)
    name: str = "llm"
    report: LLMReport = field(default_factory=LLMReport, init=False, repr=False)

    def __post_init__(self) -> None:
        response_format(self.response_format, 1)  # an unknown kind fails here, not mid-build
        if self.count_tokens is None:
            raise ValueError("the llm generator sizes extracts in the base model's tokens: pass count_tokens")
        if self.max_rows_per_extract < 1 or self.pairs_per_extract < 1:
            raise ValueError("pairs_per_extract and max_rows_per_extract must be at least 1")
        self._format_refused = False

    @property
    def completion_tokens(self) -> int:
        return self.max_tokens or 40 * self.pairs_per_extract + 16

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url, "model": self.model, "pairs_per_extract": self.pairs_per_extract,
            "max_rows_per_extract": self.max_rows_per_extract, "extract_tokens": self.extract_tokens,
            "max_instruction_tokens": self.max_instruction_tokens, "temperature": self.temperature,
            "max_tokens": self.completion_tokens, "response_format": self.response_format,
            "prompt": hashlib.sha256(self._prompt_spec().encode()).hexdigest()[:12],
        }

    def _prompt_spec(self) -> str:
        """Everything but the extract that shapes the reply: part of the cache key."""
        return json.dumps({
            "messages": instruction_messages("{extract}", self.pairs_per_extract),
            "temperature": self.temperature, "max_tokens": self.completion_tokens,
            "response_format": self.response_format,
        }, sort_keys=True)

    # -- one extract ------------------------------------------------------------------------------
    def _post(self, client: Any, extract: str) -> Any:
        import httpx

        body: dict[str, Any] = {
            "model": self.model,
            "messages": instruction_messages(extract, self.pairs_per_extract),
            "temperature": self.temperature,
            "max_tokens": self.completion_tokens,
        }
        fmt = None if self._format_refused else response_format(self.response_format, self.pairs_per_extract)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = self.base_url.rstrip("/") + "/v1/chat/completions"
        try:
            response = client.post(url, headers=headers, json={**body, "response_format": fmt} if fmt else body)
            if fmt and response.status_code in (400, 422):
                # This endpoint does not take that response_format: ask without it from now on.
                self._format_refused = True
                response = client.post(url, headers=headers, json=body)
        except httpx.TimeoutException as error:
            raise RetryableError(f"the endpoint did not answer within {self.timeout_s:g} s") from error
        except httpx.TransportError as error:
            raise RetryableError(f"the endpoint at {self.base_url} could not be reached") from error
        return response

    def _ask(self, client: Any, extract: str) -> list[str]:
        response = self._post(client, extract)
        status = response.status_code
        if status == 429 or status == 408 or status >= 500:
            raise RetryableError(f"the endpoint answered HTTP {status}", _retry_after(response))
        if status >= 400:
            raise EndpointError(
                f"the endpoint refused the request (HTTP {status}): check the model name "
                "(TWIN_INSTRUCTION_LLM_MODEL) and the API key"
            )
        try:
            content = response.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise RetryableError("the endpoint's reply was not a chat completion") from error
        instructions = [
            i for i in parse_instructions(content, self.pairs_per_extract)
            if self.count_tokens(i) <= self.max_instruction_tokens  # type: ignore[misc]
        ]
        if not instructions:
            message = "the model's reply held no JSON list of instructions"
            # A greedy reply repeats itself; only a sampled one is worth asking again.
            raise RetryableError(message) if self.temperature > 0 else EndpointError(message)
        return instructions

    def _instructions(self, client: Any, extract: str) -> tuple[list[str], bool]:
        """(instructions, came from the cache)."""
        key = cache_key(extract, self._prompt_spec(), self.model)
        if self.cache and (cached := self.cache.get(key)) is not None:
            return cached, True
        try:
            instructions = call_with_retries(lambda: self._ask(client, extract), self.retry)
        except RetryableError as error:
            raise EndpointError(f"{error} (gave up after {self.retry.attempts} attempts)") from error
        if self.cache:
            self.cache.put(key, instructions, self.model)
        return instructions, False

    # -- all extracts -----------------------------------------------------------------------------
    def generate(self, documents: Iterable[Document]) -> list[Example]:
        import httpx

        report = self.report = LLMReport(response_format=self.response_format)
        jobs: list[tuple[Document, int, str]] = []
        for doc in documents:
            extracts, over = token_sections(doc.content, self.count_tokens, self.extract_tokens)  # type: ignore[arg-type]
            report.over_budget_pieces += over
            jobs.extend((doc, index, extract) for index, extract in enumerate(extracts, 1))
        report.extracts = len(jobs)
        limits = httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency)
        client = self.client or httpx.Client(timeout=self.timeout_s, limits=limits)
        try:
            outcomes = map_bounded(lambda job: self._instructions(client, job[2]), jobs, self.max_concurrency)
        finally:
            if self.client is None:
                client.close()
        if self._format_refused:
            report.response_format = f"{self.response_format} refused by the endpoint; replies parsed as text"
        examples: list[Example] = []
        for (doc, index, extract), outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, EndpointError):
                report.failed.append(f"{doc.url or doc.id} extract {index}: {outcome}")
                continue
            if isinstance(outcome, Exception):  # a defect here, not the endpoint: never a report line
                raise outcome
            instructions, cached = outcome
            report.cached += cached
            report.asked += not cached
            for instruction in instructions[: self.max_rows_per_extract]:
                examples.append(Example(
                    instruction=instruction, answer=extract, document_id=doc.id,
                    document_hash=doc.content_hash, platform=doc.platform, category=doc.category, task="llm",
                ))
        if jobs and len(report.failed) == len(jobs):
            raise InstructionGenerationError(
                f"every one of the {len(jobs)} extracts failed; the first: {report.failed[0]}. Check that "
                "the instruction LLM endpoint answers /v1/chat/completions, then run again."
            )
        return examples


def _retry_after(response: Any) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def make_generator(name: str, **settings: Any) -> InstructionGenerator:
    if name == "offline":
        return OfflineGenerator(**{k: v for k, v in settings.items() if k in {"section_chars"}})
    if name == "llm":
        if not settings.get("base_url"):
            raise ValueError("the llm generator needs an endpoint base_url")
        return LLMGenerator(**settings)
    raise ValueError(f"unknown generator {name!r}; expected 'offline' or 'llm'")
