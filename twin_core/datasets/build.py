"""Build the rows and manifest of the instruction and preference datasets."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from twin_core.datasets.context import ContextPicker, ContextSettings, gets_context
from twin_core.datasets.examples import Example
from twin_core.datasets.filters import FilterSettings, apply_filters
from twin_core.datasets.generators import InstructionGenerator
from twin_core.datasets.split import split_by_document
from twin_core.documents import Document
from twin_core.prompts import twin_prompt


@dataclass
class BuiltDataset:
    splits: dict[str, list[dict[str, Any]]]
    manifest: dict[str, Any]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for rows in self.splits.values() for row in rows]


def build_instruction_dataset(
    documents: Iterable[Document],
    generator: InstructionGenerator,
    filters: FilterSettings | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    context: ContextSettings | None = None,
) -> BuiltDataset:
    """Rows in the served prompt shape: the twin's system message, for a share of examples
    excerpts of the author's other (training) documents, then the instruction; the answer is
    the author's own text."""
    filters = filters or FilterSettings()
    context = context or ContextSettings()
    # Sorted input: the same documents always give the same rows in the same order.
    docs = sorted(documents, key=lambda d: d.id)
    generated = generator.generate(docs)
    kept, removed = apply_filters(generated, filters)
    split = split_by_document(kept, test_fraction=test_fraction, seed=seed)
    by_id = {d.id: d for d in docs}
    train_ids = {ex.document_id for ex in split["train"]}
    picker = ContextPicker((by_id[i] for i in train_ids), context)
    with_context = 0

    def row(ex: Example, name: str) -> dict[str, Any]:
        nonlocal with_context
        author = by_id[ex.document_id].author
        sources = picker.pick(ex.instruction, author, ex.document_id) if gets_context(ex.id, context.share) else []
        with_context += bool(sources)
        return ex.to_row(name, twin_prompt(ex.instruction, author, ex.platform, sources))

    splits = {name: [row(ex, name) for ex in examples] for name, examples in split.items()}
    manifest = {
        "generator": {"name": generator.name, "settings": generator.settings()},
        "filters": {"settings": filters.to_dict(), "removed": removed},
        "generated": len(generated),
        "test_fraction": test_fraction,
        "seed": seed,
        "source_documents": {d.id: d.content_hash for d in docs},
        "split_documents": {name: len({ex.document_id for ex in exs}) for name, exs in split.items()},
        "tasks": _count(ex.task for ex in kept),
        "context": {**context.to_dict(), "examples_with_sources": with_context},
    }
    return BuiltDataset(splits, manifest)


def build_preference_dataset(
    instruction_splits: dict[str, list[dict[str, Any]]],
    answer: Callable[[list[list[dict[str, str]]]], list[str]],
    max_pairs_per_split: int | None = None,
    fit_chosen: Callable[[str], str] | None = None,
) -> BuiltDataset:
    """DPO triples: ``chosen`` is the author's answer, ``rejected`` the base model's answer.

    ``answer`` maps a batch of prompts (chat messages) to generated texts. ``fit_chosen`` cuts
    the author's answer to the length the rejected ones were generated to (in tokens): with a
    full chosen answer against a cut rejected one, DPO would learn "longer wins", not the voice.
    Pairs whose rejected text is empty or equal to the author's are dropped: they teach nothing.
    """
    splits: dict[str, list[dict[str, Any]]] = {}
    dropped = 0
    for split, rows in instruction_splits.items():
        rows = rows[:max_pairs_per_split] if max_pairs_per_split else rows
        examples = [Example.from_row(row) for row in rows]
        # The same prompt the twin trains on: system message, sources, request.
        prompts = [row["messages"][:-1] for row in rows]
        generated = answer(prompts) if prompts else []
        out = []
        for ex, prompt, rejected in zip(examples, prompts, generated, strict=True):
            chosen = fit_chosen(ex.answer) if fit_chosen else ex.answer
            if not rejected.strip() or rejected.strip() == chosen.strip():
                dropped += 1
                continue
            key = f"{ex.id}\0{rejected}".encode()
            out.append({
                "id": hashlib.sha256(key).hexdigest()[:16],
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
                "document_id": ex.document_id,
                "split": split,
            })
        splits[split] = out
    manifest = {"dropped_pairs": dropped, "max_pairs_per_split": max_pairs_per_split}
    return BuiltDataset(splits, manifest)


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return dict(sorted(out.items()))
