"""Retrieval: all query variants embedded in one batch, searched in one Milvus call, merged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from twin_core.chunking import Hit


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
    per_query = [list(hits) for hits in results]
    query_vectors = vectors.tolist() if hasattr(vectors, "tolist") else [list(map(float, v)) for v in vectors]
    return Retrieval(merge_hits(per_query), query_vectors, [len(h) for h in per_query])
