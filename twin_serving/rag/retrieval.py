"""Retrieval: all query variants embedded in one batch, searched in one Milvus call, merged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

HIT_FIELDS = ("id", "document_id", "author", "platform", "category", "url", "title", "position", "text")


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    score: float
    document_id: str = ""
    author: str = ""
    platform: str = ""
    category: str = ""
    url: str = ""
    title: str = ""
    position: int = 0
    vector: tuple[float, ...] | None = field(default=None, repr=False, compare=False)

    def snippet(self, chars: int = 240) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def to_hit(raw: Any) -> Hit:
    """A ``Hit`` from whatever the index returns (object with attributes, or a mapping)."""
    get = raw.get if isinstance(raw, dict) else lambda name, default=None: getattr(raw, name, default)
    entity = get("entity", None)
    if isinstance(entity, dict):  # raw pymilvus result: fields live under "entity"
        merged = {**entity, "id": get("id", entity.get("id")), "score": get("distance", get("score", 0.0))}
        get = merged.get
    vector = get("vector", None)
    if vector is not None and not isinstance(vector, tuple):
        vector = tuple(vector.tolist() if hasattr(vector, "tolist") else vector)
    return Hit(
        id=str(get("id", "")),
        text=str(get("text", "") or ""),
        score=float(get("score", 0.0) or 0.0),
        document_id=str(get("document_id", "") or ""),
        author=str(get("author", "") or ""),
        platform=str(get("platform", "") or ""),
        category=str(get("category", "") or ""),
        url=str(get("url", "") or ""),
        title=str(get("title", "") or ""),
        position=int(get("position", 0) or 0),
        vector=vector,
    )


def merge_hits(per_query: Sequence[Sequence[Hit]]) -> list[Hit]:
    """De-duplicate by chunk id keeping each chunk's best score; best first."""
    best: dict[str, Hit] = {}
    for hits in per_query:
        for hit in hits:
            kept = best.get(hit.id)
            if kept is None or hit.score > kept.score:
                best[hit.id] = hit if kept is None or hit.vector is not None else replace(hit, vector=kept.vector)
    return sorted(best.values(), key=lambda h: h.score, reverse=True)


@dataclass
class Retrieval:
    hits: list[Hit]
    query_vectors: list[list[float]]
    per_query_counts: list[int]


def retrieve(embedder, index, queries: Sequence[str], k: int, filter_expr: str | None,
             *, with_vectors: bool = False) -> Retrieval:
    """One embedding batch, one batched search, merged hits. Blocking: run in a worker thread.

    ``with_vectors``: the hits carry their stored embeddings, returned by the same search.
    """
    vectors = embedder.encode_queries(list(queries))
    options = {"with_vectors": True} if with_vectors else {}
    results = index.search(vectors, list(queries), k=k, filter=filter_expr or "", **options)
    per_query = [[to_hit(raw) for raw in hits] for hits in results]
    query_vectors = vectors.tolist() if hasattr(vectors, "tolist") else [list(map(float, v)) for v in vectors]
    return Retrieval(merge_hits(per_query), query_vectors, [len(h) for h in per_query])
