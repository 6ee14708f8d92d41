"""The training pipeline's steps on the object store, free of Dagster: build/register the base
model, train a twin version, evaluate it, promote it. The assets call these."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin_core.datasets.preference_pairs import PreferenceBuild
from twin_core.datasets.store import INSTRUCTION_DATASET, PREFERENCE_DATASET, DatasetStore
from twin_core.object_store import ObjectStore
from twin_core.registry import (
    BASE_MODEL,
    LATEST,
    PRODUCTION,
    TWIN_MODEL,
    ModelNotFound,
    ModelRegistry,
)
from twin_core.training.base_model import TINY
from twin_core.training.config import (
    DEFAULT_DPO_LEARNING_RATE,
    DEFAULT_LEARNING_RATE,
    TINY_DPO_LEARNING_RATE,
    TINY_LEARNING_RATE,
)
from twin_core.training.launch import TrainingFailed, launch
from twin_core.training.remote import (
    RemoteBaseModel,
    RemoteEvaluation,
    RemotePreferencePairs,
    RemoteTraining,
    store_spec,
)
from twin_core.training.staging import (
    CANDIDATE,
    evaluation_key,
    read_evaluation,
    register_twin,
    stage_training,
)


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


def automatic_learning_rates(hyperparameters: dict[str, Any], tiny: bool) -> dict[str, Any]:
    """A learning rate of 0 (or unset) means: the default for this kind of base model."""
    out = dict(hyperparameters)
    if out.get("learning_rate", 0) <= 0:
        out["learning_rate"] = TINY_LEARNING_RATE if tiny else DEFAULT_LEARNING_RATE
    if out.get("dpo_learning_rate", 0) <= 0:
        out["dpo_learning_rate"] = TINY_DPO_LEARNING_RATE if tiny else DEFAULT_DPO_LEARNING_RATE
    return out


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
    if launcher == "kubernetes" and job_launcher is None:
        raise ValueError("launcher 'kubernetes' needs a job launcher (the trainer resource builds one)")
    datasets = DatasetStore(store)
    dataset_version = datasets.resolve(INSTRUCTION_DATASET)
    preference_version = datasets.resolve(PREFERENCE_DATASET) if dpo else None
    base = ModelRegistry(store, BASE_MODEL)
    base_version = base.resolve(LATEST)
    twin = ModelRegistry(store, TWIN_MODEL)
    hyperparameters = automatic_learning_rates(hyperparameters, tiny=base.card(base_version).get("source") == TINY)
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


def register_base_remotely(
    store: ObjectStore, source: str, job_launcher: Any, log: Callable[[str], None] | None = None,
) -> tuple[str, dict[str, Any], bool]:
    """Register ``source`` in a GPU Job unless the registry has it already; returns what
    ``register_base_model`` returns. The tiny model stays local (it is built from the corpus)."""
    registry = ModelRegistry(store, BASE_MODEL)
    if existing := registry.find(source=source):
        registry.set_alias(LATEST, existing)
        return existing, registry.card(existing), False
    job_launcher.run(RemoteBaseModel(store=store_spec(store), source=source).to_json(), log=log)
    version = registry.find(source=source)
    if version is None:
        raise TrainingFailed(f"the base model job succeeded but registered no {BASE_MODEL} version from {source}")
    registry.set_alias(LATEST, version)
    return version, registry.card(version), True


def build_pairs_remotely(
    store: ObjectStore, job_launcher: Any, *, max_pairs_per_split: int, max_new_tokens: int,
    temperature: float, log: Callable[[str], None] | None = None,
) -> PreferenceBuild:
    """Build the preference dataset in a GPU Job; returns the version it wrote, checked against
    the instruction dataset and base model this side sees."""
    datasets = DatasetStore(store)
    source_version = datasets.resolve(INSTRUCTION_DATASET)
    base_version = ModelRegistry(store, BASE_MODEL).resolve(LATEST)
    spec = RemotePreferencePairs(store=store_spec(store), max_pairs_per_split=max_pairs_per_split,
                                 max_new_tokens=max_new_tokens, temperature=temperature)
    job_launcher.run(spec.to_json(), log=log)
    version = datasets.resolve(PREFERENCE_DATASET)
    manifest = datasets.manifest(PREFERENCE_DATASET, version)
    if (manifest.get("source_dataset", {}).get("version"), manifest.get("rejected_by", {}).get("version")) != (source_version, base_version):
        raise TrainingFailed(f"the preference pairs job succeeded but wrote no {PREFERENCE_DATASET} version from "
                             f"{INSTRUCTION_DATASET} {source_version} and {BASE_MODEL} {base_version}")
    return PreferenceBuild(version, True, source_version, base_version)


def evaluate_remotely(
    store: ObjectStore, job_launcher: Any, *, embedding_model: str, embedding_backend: str,
    max_new_tokens: int = 48, distractors: Sequence[str] = (), style_examples: int = 16,
    style_tolerance: float = 0.0, log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate the candidate in a GPU Job (generation with twin, base and production is the
    heavy part, not for the Dagster run pod); the Job writes the summary beside the card and
    this reads it. The judge, an endpoint with its own key, is asked only in-process."""
    version = ModelRegistry(store, TWIN_MODEL).resolve(CANDIDATE)
    spec = RemoteEvaluation(
        store=store_spec(store), version=version, embedding_model=embedding_model,
        embedding_backend=embedding_backend, max_new_tokens=max_new_tokens,
        style_examples=style_examples, style_tolerance=style_tolerance, distractors=list(distractors),
    )
    job_launcher.run(spec.to_json(), log=log)
    if not store.exists(evaluation_key(version)):
        raise TrainingFailed(f"the evaluation job succeeded but wrote no summary for {TWIN_MODEL} {version}")
    return read_evaluation(store, version)


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
