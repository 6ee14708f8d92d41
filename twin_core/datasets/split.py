"""Train/test split by document: every example of one document lands on the same side.

A document's side is decided by a stable hash of its id (and the seed) alone, not by shuffling
the current set of documents: a new dataset version with more documents never moves a test
document into training, so production and a new candidate are scored on text neither trained on.
"""

from __future__ import annotations

import hashlib

from twin_core.datasets.examples import Example


def document_score(document_id: str, seed: int = 0) -> float:
    """A uniform number in [0, 1) fixed by the document id and the seed."""
    digest = hashlib.sha256(f"{seed}\0{document_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def held_out_documents(document_ids: set[str], test_fraction: float, seed: int = 0) -> set[str]:
    """The held-out documents: those whose score falls under ``test_fraction``.

    With two or more documents each side gets at least one: if the hash puts every document on
    one side, the document whose score is nearest the threshold crosses over (only happens for
    very small corpora).
    """
    if not 0 <= test_fraction < 1:
        raise ValueError("test_fraction must be in [0, 1)")
    scores = {doc: document_score(doc, seed) for doc in document_ids}
    held_out = {doc for doc, score in scores.items() if score < test_fraction}
    if len(scores) >= 2 and test_fraction > 0:
        if not held_out:
            held_out = {min(scores, key=lambda d: (scores[d], d))}
        elif held_out == set(scores):
            held_out -= {max(scores, key=lambda d: (scores[d], d))}
    return held_out


def split_by_document(
    examples: list[Example], test_fraction: float = 0.2, seed: int = 0
) -> dict[str, list[Example]]:
    """Examples of held-out documents go to ``test``, the rest to ``train`` (order kept)."""
    held_out = held_out_documents({ex.document_id for ex in examples}, test_fraction, seed)
    return {
        "train": [ex for ex in examples if ex.document_id not in held_out],
        "test": [ex for ex in examples if ex.document_id in held_out],
    }
