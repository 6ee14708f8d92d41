"""Rerank the merged hits: a FlagEmbedding cross-encoder when configured, else MMR.

MMR (maximal marginal relevance) picks, one at a time, the hit most similar to the query and
least similar to those already picked, so five near-copies of one post do not crowd out the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from twin_core.chunking import Hit


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def mmr_order(query_vector: Sequence[float], candidates: Sequence[Sequence[float]], k: int,
              lambda_: float = 0.7) -> list[int]:
    """Indices of up to ``k`` candidates in MMR order (cosine similarity)."""
    if not len(candidates) or k <= 0:
        return []
    cand = _normalize(np.asarray(candidates, dtype=np.float32))
    query = _normalize(np.asarray(query_vector, dtype=np.float32))
    relevance = lambda_ * (cand @ query)
    similarity = cand @ cand.T
    # Each candidate's highest similarity to those picked so far (nothing picked: no penalty).
    redundancy = np.zeros(len(cand), dtype=np.float32)
    taken = np.zeros(len(cand), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < min(k, len(cand)):
        scores = relevance - (1 - lambda_) * redundancy
        scores[taken] = -np.inf
        pick = int(np.argmax(scores))  # ties: the earliest candidate, as before
        chosen.append(pick)
        taken[pick] = True
        column = similarity[:, pick]
        redundancy = column if len(chosen) == 1 else np.maximum(redundancy, column)
    return chosen


def mmr(hits: Sequence[Hit], query_vector: Sequence[float], hit_vectors: Sequence[Sequence[float]],
        k: int, lambda_: float = 0.7) -> list[Hit]:
    return [hits[i] for i in mmr_order(query_vector, hit_vectors, k, lambda_)]


def load_reranker(path: str):
    from FlagEmbedding import FlagReranker

    return FlagReranker(path, use_fp16=False, devices="cpu")


def cross_encoder_rerank(reranker, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
    """Hits re-scored by the cross-encoder (normalized to 0..1), best ``k`` first."""
    if not hits:
        return []
    scores = reranker.compute_score([[query, hit.text] for hit in hits], normalize=True)
    if isinstance(scores, float | int):
        scores = [scores]
    rescored = [replace(hit, score=float(s)) for hit, s in zip(hits, scores, strict=True)]
    return sorted(rescored, key=lambda h: h.score, reverse=True)[:k]
