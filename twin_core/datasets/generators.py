"""Instruction generators behind one interface: ``generate(documents) -> list[Example]``.

``offline`` (the default) is deterministic and needs nothing: it derives the instruction from
the document itself. ``llm`` asks any OpenAI-compatible chat endpoint (TGI's Messages API,
vLLM, OpenAI) to write k instructions per extract. Either way the answer is the author's text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from twin_core.datasets.examples import Example
from twin_core.documents import Document

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


LLM_PROMPT = """You help build a dataset that teaches a model to write like a specific author.
Below is an extract of the author's writing. Write {k} different instructions that a user could
give so that this extract would be a perfect answer. Vary them (topic requests, questions,
"write a post about ..."). Do not copy the extract. Reply with a JSON list of {k} strings only.

Extract:
{extract}"""


def parse_instructions(text: str, k: int) -> list[str]:
    """The JSON list of strings in a model reply (fenced or not); at most ``k``; [] if none."""
    match = re.search(r"\[.*\]", text, flags=re.DOTALL)
    if not match:
        return []
    try:
        items = json.loads(match.group(0))
    except json.JSONDecodeError:
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):  # some models answer [{"instruction": ...}]
            item = item.get("instruction") or next(iter(item.values()), "")
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
    return out[:k]


@dataclass
class LLMGenerator:
    """k instructions per extract from an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    The reference implementations asked gpt-4o-mini for 5 pairs per extract; here the model
    writes only the instructions and the answer stays the author's extract.
    """

    base_url: str
    model: str = "tgi"
    api_key: str = ""
    pairs_per_extract: int = 5
    extract_chars: int = 1200
    temperature: float = 0.7
    timeout_s: float = 60.0
    name: str = "llm"
    client: Any = field(default=None, repr=False)

    def settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url, "model": self.model, "pairs_per_extract": self.pairs_per_extract,
            "extract_chars": self.extract_chars, "temperature": self.temperature,
        }

    def _complete(self, prompt: str) -> str:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        client = self.client or httpx.Client(timeout=self.timeout_s)
        try:
            response = client.post(
                self.base_url.rstrip("/") + "/v1/chat/completions",
                headers=headers,
                json={
                    "model": self.model,
                    "messages": [{"role": "user", "content": prompt}],
                    "temperature": self.temperature,
                    "max_tokens": 80 * self.pairs_per_extract,
                },
            )
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"] or ""
        finally:
            if self.client is None:
                client.close()

    def generate(self, documents: Iterable[Document]) -> list[Example]:
        examples = []
        for doc in documents:
            for extract in sections(doc.content, self.extract_chars):
                prompt = LLM_PROMPT.format(k=self.pairs_per_extract, extract=extract)
                for instruction in parse_instructions(self._complete(prompt), self.pairs_per_extract):
                    examples.append(Example(
                        instruction=instruction, answer=extract, document_id=doc.id,
                        document_hash=doc.content_hash, platform=doc.platform,
                        category=doc.category, task="llm",
                    ))
        return examples


def make_generator(name: str, **settings: Any) -> InstructionGenerator:
    if name == "offline":
        return OfflineGenerator(**{k: v for k, v in settings.items() if k in {"section_chars"}})
    if name == "llm":
        if not settings.get("base_url"):
            raise ValueError("the llm generator needs an endpoint base_url")
        return LLMGenerator(**settings)
    raise ValueError(f"unknown generator {name!r}; expected 'offline' or 'llm'")
