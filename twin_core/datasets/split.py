"""Train/test split by document: every example of one document lands on the same side."""

from __future__ import annotations

import random

from twin_core.datasets.examples import Example


def split_by_document(
    examples: list[Example], test_fraction: float = 0.2, seed: int = 0
) -> dict[str, list[Example]]:
    """Seeded split of document ids, so the test split holds text the model never trained on.

    With two or more documents, each side gets at least one document.
    """
    if not 0 <= test_fraction < 1:
        raise ValueError("test_fraction must be in [0, 1)")
    documents = sorted({ex.document_id for ex in examples})
    random.Random(seed).shuffle(documents)
    n_test = round(len(documents) * test_fraction)
    if len(documents) >= 2 and test_fraction > 0:
        n_test = min(max(n_test, 1), len(documents) - 1)
    test_ids = set(documents[:n_test])
    return {
        "train": [ex for ex in examples if ex.document_id not in test_ids],
        "test": [ex for ex in examples if ex.document_id in test_ids],
    }
