"""The training pipeline's steps on the object store, free of Dagster: build/register the base
model, train a twin version, evaluate it, promote it. The assets call these."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin_core.datasets.examples import Example
from twin_core.datasets.generators import OfflineGenerator
from twin_core.datasets.store import INSTRUCTION_DATASET, PREFERENCE_DATASET, DatasetStore
from twin_core.documents import Document
from twin_core.object_store import ObjectStore
from twin_core.registry import (
    BASE_MODEL,
    LATEST,
    PRODUCTION,
    TWIN_MODEL,
    ModelNotFound,
    ModelRegistry,
    folder_hash,
)
from twin_core.training.config import DEFAULT_LEARNING_RATE, TINY_LEARNING_RATE, TrainingConfig
from twin_core.training.evaluation import Embed, Judge, evaluate_model, promotion_decision

TINY = "tiny"
CANDIDATE = "candidate"


def base_model_corpus(documents: Iterable[Document]) -> list[str]:
    """What the tiny model's tokenizer learns from: the author's texts and the instructions."""
    docs = sorted(documents, key=lambda d: d.id)
    texts = [t for d in docs for t in (d.title, d.content) if t.strip()]
    texts += [ex.instruction for ex in OfflineGenerator().generate(docs)]
    return texts


def register_base_model(
    store: ObjectStore, source: str, documents: Iterable[Document], work_dir: Path, spec: Any = None,
) -> tuple[str, dict[str, Any], bool]:
    """Register the configured base model; returns (version, card, created).

    ``source="tiny"`` builds the offline model from the corpus (version = content hash, so the
    same corpus is the same version). Any other source (HF id or folder) is registered once.
    """
    registry = ModelRegistry(store, BASE_MODEL)
    if source != TINY and (existing := registry.find(source=source)):
        registry.set_alias(LATEST, existing)
        return existing, registry.card(existing), False
    work_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=work_dir, prefix="base."))
    try:
        if source == TINY:
            from twin_core.models.tiny import build_tiny_model

            corpus = base_model_corpus(documents)
            build_tiny_model(corpus, folder, spec)
            extra = {"corpus_texts": len(corpus)}
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            AutoModelForCausalLM.from_pretrained(source).save_pretrained(folder, safe_serialization=True)
            AutoTokenizer.from_pretrained(source).save_pretrained(folder)
            extra = {}
        config = json.loads((folder / "config.json").read_text())
        version = folder_hash(folder)[:12]
        created = version not in registry.versions()
        card = {
            "source": source, "architecture": config.get("model_type"),
            "vocab_size": config.get("vocab_size"), "parameters": _parameters(folder), **extra,
        }
        registry.register(folder, card, version=version)
        registry.set_alias(LATEST, version)
        return version, registry.card(version), created
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _parameters(folder: Path) -> int:
    from safetensors import safe_open

    total = 0
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), "pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                shape = handle.get_slice(key).get_shape()
                total += math.prod(shape)
    return total


@dataclass
class TrainingOutcome:
    version: str
    card: dict[str, Any]
    reused: bool
    job: str | None = None  # the Kubernetes Job that trained it, when one did


def fingerprint(base_version: str, dataset_version: str, preference_version: str | None, hyperparameters: dict[str, Any]) -> str:
    """Same base, data and recipe -> same fingerprint -> the registered version is reused."""
    key = json.dumps([base_version, dataset_version, preference_version, hyperparameters], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


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
    """Register a trained model (merged folder + adapter) with its card; returns the version."""
    card = {
        **lineage,
        "hyperparameters": config.hyperparameters(),
        "launcher": {**launcher, "world_size": result.get("world_size")},
        "training": {k: v for k, v in result.items() if k in ("sft", "dpo", "wall_s")},
    }
    return ModelRegistry(store, TWIN_MODEL).register(
        result["merged_dir"], card, adapter_dir=result.get("adapter_dir")
    )


def train_twin(
    store: ObjectStore,
    hyperparameters: dict[str, Any],
    work_dir: Path,
    launcher: str = "in_process",
    nproc: int = 1,
    deepspeed: str | None = None,
    dpo: bool = False,
    log: Callable[[str], None] | None = None,
    job_launcher: Any = None,
) -> TrainingOutcome:
    """Train a twin on the latest datasets and base model and register it as a new version.

    ``launcher="kubernetes"`` hands the run to ``job_launcher`` (a ``KubernetesJobLauncher``):
    a GPU Job fetches the inputs from the store, trains and registers the version itself, and
    this finds it by fingerprint. The other launchers train on this machine.

    When the registry already holds a version with the same fingerprint, that version is
    returned and nothing trains: re-runs are idempotent.
    """
    from twin_core.training.launch import TrainingFailed, launch

    if launcher == "kubernetes" and job_launcher is None:
        raise ValueError("launcher 'kubernetes' needs a job launcher (the trainer resource builds one)")
    datasets = DatasetStore(store)
    dataset_version = datasets.resolve(INSTRUCTION_DATASET)
    preference_version = datasets.resolve(PREFERENCE_DATASET) if dpo else None
    base = ModelRegistry(store, BASE_MODEL)
    base_version = base.resolve(LATEST)
    twin = ModelRegistry(store, TWIN_MODEL)
    if hyperparameters.get("learning_rate", 0) <= 0:
        tiny = base.card(base_version).get("source") == TINY
        hyperparameters = {**hyperparameters, "learning_rate": TINY_LEARNING_RATE if tiny else DEFAULT_LEARNING_RATE}
    recipe = {**hyperparameters, "dpo": dpo}
    key = fingerprint(base_version, dataset_version, preference_version, recipe)
    if existing := twin.find(fingerprint=key):
        twin.set_alias(CANDIDATE, existing)
        return TrainingOutcome(existing, twin.card(existing), reused=True)
    lineage = {
        "fingerprint": key,
        "base_model": {"name": BASE_MODEL, "version": base_version, "source": base.card(base_version).get("source")},
        "dataset": {"name": INSTRUCTION_DATASET, "version": dataset_version},
        "preference_dataset": {"name": PREFERENCE_DATASET, "version": preference_version} if dpo else None,
    }

    if launcher == "kubernetes":
        from twin_core.training.remote import RemoteTraining, store_spec

        spec = RemoteTraining(
            store=store_spec(store), base_model_version=base_version, dataset_version=dataset_version,
            preference_version=preference_version, hyperparameters=hyperparameters,
            deepspeed=deepspeed or None, lineage=lineage,
        )
        job = job_launcher.run(spec.to_json(), log=log)
        version = twin.find(fingerprint=key)
        if version is None:
            raise TrainingFailed(f"training job {job} succeeded but registered no {TWIN_MODEL} version with fingerprint {key}")
        twin.set_alias(CANDIDATE, version)
        return TrainingOutcome(version, twin.card(version), reused=False, job=job)

    work_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(dir=work_dir, prefix="run."))
    try:
        config = stage_training(store, base_version, dataset_version, preference_version,
                                hyperparameters, deepspeed, work_dir, run_dir)
        result = launch(config, launcher, nproc, log=log)  # type: ignore[arg-type]
        version = register_twin(store, lineage, config, result,
                                {"launcher": launcher, "nproc": nproc, "deepspeed": deepspeed or None})
        twin.set_alias(CANDIDATE, version)
        return TrainingOutcome(version, twin.card(version), reused=False)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def evaluate_candidate(
    store: ObjectStore, work_dir: Path, embed: Embed, judge: Judge | None = None,
    version: str = CANDIDATE, max_examples: int = 32, max_new_tokens: int = 48,
) -> dict[str, Any]:
    """Twin vs its base (and the current production version) on the twin's test split.

    The metrics and the promotion decision go into the twin's model card.
    """
    twin = ModelRegistry(store, TWIN_MODEL)
    version = twin.resolve(version)
    card = twin.card(version)
    datasets = DatasetStore(store)
    dataset_version = card["dataset"]["version"]
    test = [Example.from_row(r) for r in datasets.read(INSTRUCTION_DATASET, "test", dataset_version)][:max_examples]
    if not test:
        raise ValueError(f"dataset {dataset_version} has an empty test split: nothing to evaluate on")
    author = [Example.from_row(r).answer for r in datasets.read(INSTRUCTION_DATASET, "train", dataset_version)]
    cache = work_dir / "cache"

    def run(registry: ModelRegistry, v: str) -> dict[str, Any]:
        return evaluate_model(registry.materialize_version(v, cache), test, author, embed, judge, max_new_tokens)

    results = {"twin": run(twin, version)}
    results["base"] = run(ModelRegistry(store, BASE_MODEL), card["base_model"]["version"])
    production_version = twin.get_alias(PRODUCTION)
    if production_version and production_version != version:
        results["production"] = run(twin, production_version)
    decision = promotion_decision(results["twin"], results["base"], results.get("production"))
    summary = {
        "version": version,
        "dataset_version": dataset_version,
        "production_version": production_version,
        "results": results,
        "promotion": {"passed": decision.passed, "reasons": decision.reasons},
    }
    metrics = {k: v for k, v in results["twin"].items() if isinstance(v, int | float)}
    twin.update_card(version, metrics=metrics, evaluation={
        "dataset_version": dataset_version,
        "baselines": {name: {k: v for k, v in r.items() if isinstance(v, int | float)} for name, r in results.items() if name != "twin"},
        "production_version": production_version,
        "promotion": summary["promotion"],
    })
    return summary


def promote(store: ObjectStore, version: str = CANDIDATE) -> tuple[str, str | None]:
    """Move ``production`` to ``version`` if its card records a passed evaluation.

    Returns (new version, previous version). Refuses an unevaluated or failing version.
    """
    twin = ModelRegistry(store, TWIN_MODEL)
    version = twin.resolve(version)
    promotion = twin.card(version).get("evaluation", {}).get("promotion")
    if not promotion:
        raise ModelNotFound(f"{TWIN_MODEL}/{version} has not been evaluated: materialize model_evaluation first")
    if not promotion["passed"]:
        raise ValueError(f"{TWIN_MODEL}/{version} failed its evaluation: " + "; ".join(promotion["reasons"]))
    previous = twin.get_alias(PRODUCTION)
    twin.set_alias(PRODUCTION, version)
    return version, previous
