"""Staging a run on the machine that trains, registering what it produced and evaluating the
candidate: the same steps whether that machine runs the Dagster step or a GPU Job."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twin_core.datasets.store import INSTRUCTION_DATASET, PREFERENCE_DATASET, DatasetStore
from twin_core.object_store import ObjectStore
from twin_core.registry import BASE_MODEL, PRODUCTION, TWIN_MODEL, ModelRegistry
from twin_core.training.config import TrainingConfig
from twin_core.training.evaluation import Embed, Judge, evaluate_model, promotion_decision

CANDIDATE = "candidate"


def _download_split(datasets: DatasetStore, name: str, version: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        rows = datasets.read(name, split, version)
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return folder


def stage_training(
    store: ObjectStore, base_version: str, dataset_version: str, preference_version: str | None,
    hyperparameters: dict[str, Any], deepspeed: str | None, work_dir: Path, run_dir: Path,
) -> TrainingConfig:
    """Fetch the base model and datasets into local folders; returns the run's config.

    The same on the machine that trains, whether that is the Dagster step or a GPU Job.
    """
    datasets = DatasetStore(store)
    base_dir = ModelRegistry(store, BASE_MODEL).materialize_version(base_version, work_dir / "cache")
    data_dir = _download_split(datasets, INSTRUCTION_DATASET, dataset_version, run_dir / "data")
    pref_dir = (
        _download_split(datasets, PREFERENCE_DATASET, preference_version, run_dir / "pref")
        if preference_version else None
    )
    return TrainingConfig(
        base_model_dir=str(base_dir), dataset_dir=str(data_dir), output_dir=str(run_dir / "out"),
        preference_dataset_dir=str(pref_dir) if pref_dir else None, deepspeed=deepspeed or None,
        **hyperparameters,
    )


def register_twin(
    store: ObjectStore, lineage: dict[str, Any], config: TrainingConfig, result: dict[str, Any],
    launcher: dict[str, Any],
) -> str:
    """Register a trained model (merged folder and/or adapter) with its card; returns the version."""
    card = {
        **lineage,
        "hyperparameters": config.hyperparameters(),
        "launcher": {**launcher, "world_size": result.get("world_size")},
        "training": {k: v for k, v in result.items() if k in ("sft", "dpo", "wall_s", "peak_gpu_memory_gb")},
    }
    return ModelRegistry(store, TWIN_MODEL).register(
        result.get("merged_dir"), card, adapter_dir=result.get("adapter_dir")
    )


def evaluation_key(version: str) -> str:
    return f"models/{TWIN_MODEL}/{version}/evaluation.json"


def read_evaluation(store: ObjectStore, version: str) -> dict[str, Any]:
    return json.loads(store.get_bytes(evaluation_key(version)))


def evaluate_candidate(
    store: ObjectStore, work_dir: Path, embed: Embed, judge: Judge | None = None,
    version: str = CANDIDATE, max_new_tokens: int = 48, distractors: Sequence[str] = (),
    style_examples: int = 16, style_tolerance: float = 0.0,
) -> dict[str, Any]:
    """Twin vs its base (and the current production version) on every example of the twin's
    test split, in the prompt shape it is served with.

    The metrics and the promotion decision go into the twin's model card.
    """
    twin = ModelRegistry(store, TWIN_MODEL)
    version = twin.resolve(version)
    card = twin.card(version)
    datasets = DatasetStore(store)
    dataset_version = card["dataset"]["version"]
    test = [row["messages"] for row in datasets.read(INSTRUCTION_DATASET, "test", dataset_version)]
    if not test:
        raise ValueError(f"dataset {dataset_version} has an empty test split: nothing to evaluate on")
    author = [row["messages"][-1]["content"] for row in datasets.read(INSTRUCTION_DATASET, "train", dataset_version)]
    cache = work_dir / "cache"

    def run(registry: ModelRegistry, v: str) -> dict[str, Any]:
        return evaluate_model(registry.materialize_version(v, cache), test, author, embed, judge, max_new_tokens,
                              distractors, style_examples)

    results = {"twin": run(twin, version)}
    results["base"] = run(ModelRegistry(store, BASE_MODEL), card["base_model"]["version"])
    production_version = twin.get_alias(PRODUCTION)
    if production_version and production_version != version:
        results["production"] = run(twin, production_version)
    decision = promotion_decision(results["twin"], results["base"], results.get("production"),
                                  style_tolerance=style_tolerance)
    summary = {
        "version": version,
        "dataset_version": dataset_version,
        "production_version": production_version,
        "results": results,
        "promotion": {"passed": decision.passed, "reasons": decision.reasons},
    }
    # The whole summary (samples included) beside the card: what the Dagster step shows when
    # the evaluation ran in a GPU Job.
    store.put_bytes(evaluation_key(version), json.dumps(summary, ensure_ascii=False, default=str).encode())
    metrics = {k: v for k, v in results["twin"].items() if isinstance(v, int | float)}
    twin.update_card(version, metrics=metrics, evaluation={
        "dataset_version": dataset_version,
        "baselines": {name: {k: v for k, v in r.items() if isinstance(v, int | float)} for name, r in results.items() if name != "twin"},
        "production_version": production_version,
        "promotion": summary["promotion"],
    })
    return summary
