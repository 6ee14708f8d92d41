"""Retrieved context for training prompts: the author's past writing the API would add.

At serving time the RAG step puts excerpts of the author's other writing into the prompt. So
that the twin trains on that shape, a share of examples gets ``<source>`` excerpts here too,
picked from the author's other training documents by word overlap with the instruction (a
lexical stand-in for the vector search: deterministic and free of the embedder). Never from the
answer's own document (the model would learn to copy), and never from a test document (the
held-out answers stay unseen in training).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from twin_core.datasets.generators import sections
from twin_core.documents import Document
from twin_core.prompts import SourceText

_WORD = re.compile(r"[a-z][a-z0-9'-]{3,}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class ContextSettings:
    share: float = 0.5  # of examples that get sources
    sources: int = 2  # excerpts per example
    excerpt_chars: int = 400

    def to_dict(self) -> dict[str, float]:
        return {"share": self.share, "sources": self.sources, "excerpt_chars": self.excerpt_chars}


def gets_context(example_id: str, share: float) -> bool:
    """Stable per example: the same example always gets (or lacks) sources."""
    digest = hashlib.sha256(f"context\0{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


class ContextPicker:
    """Excerpts of a fixed set of documents, ranked by word overlap with a request."""

    def __init__(self, documents: Iterable[Document], settings: ContextSettings):
        self.settings = settings
        self.excerpts: list[tuple[Document, str, set[str]]] = []
        for doc in sorted(documents, key=lambda d: d.id):
            if doc.category == "repository":
                continue  # code descriptions make poor writing samples
            for text in sections(doc.content, settings.excerpt_chars):
                excerpt = text[: settings.excerpt_chars * 2]
                self.excerpts.append((doc, excerpt, _words(excerpt)))

    def pick(self, request: str, author: str, exclude_document: str) -> list[SourceText]:
        wanted = _words(request)
        ranked = sorted(
            (
                (-len(wanted & words) / (len(words) ** 0.5 or 1.0), doc.id, i)
                for i, (doc, _text, words) in enumerate(self.excerpts)
                if doc.id != exclude_document and doc.author == author
            ),
        )
        out: list[SourceText] = []
        used_docs: set[str] = set()
        for _score, doc_id, i in ranked:
            if doc_id in used_docs:
                continue  # one excerpt per document: breadth, as the reranked search gives
            doc, text, _words_ = self.excerpts[i]
            out.append(SourceText("past", doc.url, doc.title, text))
            used_docs.add(doc_id)
            if len(out) == self.settings.sources:
                break
        return out
