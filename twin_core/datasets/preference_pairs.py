"""The preference dataset from the registry's base model: the base answers the instruction
dataset's prompts (rejected), the author's answers are cut to the same number of tokens
(chosen), so length is no shortcut. The same step in the Dagster run and in a GPU Job (with a
7B base, generating the rejected answers is GPU work)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin_core.datasets.store import INSTRUCTION_DATASET, PREFERENCE_DATASET, DatasetStore
from twin_core.object_store import ObjectStore
from twin_core.registry import BASE_MODEL, LATEST, ModelRegistry


@dataclass
class PreferenceBuild:
    version: str
    created: bool
    source_version: str  # the instruction dataset's
    base_version: str  # the model that wrote the rejected answers


def first_tokens(tokenizer: Any, text: str, n: int) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= n else tokenizer.decode(ids[:n]).rstrip()


def build_preference_pairs(
    store: ObjectStore, work_dir: Path, max_pairs_per_split: int, max_new_tokens: int, temperature: float,
) -> PreferenceBuild:
    """Write the preference dataset for the latest instruction dataset and base model."""
    from twin_core.datasets.build import build_preference_dataset
    from twin_core.models.generate import generate_answers, load_model

    datasets = DatasetStore(store)
    source_version = datasets.resolve(INSTRUCTION_DATASET)
    splits = {s: datasets.read(INSTRUCTION_DATASET, s, source_version) for s in ("train", "test")}
    base = ModelRegistry(store, BASE_MODEL)
    base_version = base.resolve(LATEST)
    model, tokenizer = load_model(base.materialize_version(base_version, work_dir / "cache"))
    built = build_preference_dataset(
        splits,
        lambda prompts: generate_answers(
            model, tokenizer, prompts, max_new_tokens, min_new_tokens=8, temperature=temperature,
        ),
        max_pairs_per_split,
        fit_chosen=lambda text: first_tokens(tokenizer, text, max_new_tokens),
    )
    manifest = {
        **built.manifest,
        "source_dataset": {"name": INSTRUCTION_DATASET, "version": source_version},
        "rejected_by": {"name": BASE_MODEL, "version": base_version},
        "max_new_tokens": max_new_tokens,
        "chosen_cut_to_tokens": max_new_tokens,
    }
    version, created = datasets.write(PREFERENCE_DATASET, built.splits, manifest)
    return PreferenceBuild(version, created, source_version, base_version)
