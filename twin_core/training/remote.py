"""A training run described for another machine: the Kubernetes Job on GPU nodes.

The Dagster step resolves the versions (base model, datasets), fingerprints the recipe and
passes this description inline as ``--config '{"kind": "twin/remote-training", ...}'``. In the
Job, ``python -m twin_core.training`` (one process per GPU under torchrun) fetches the inputs
from the object store, trains, and rank 0 registers the version with its model card. Weights go
straight from the GPU node to the registry; the Dagster step then finds the version by its
fingerprint. Inline JSON rather than a file on S3: the training role may read ``datasets/`` and
``models/`` only, and the description is a few kilobytes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

from twin_core.datasets.preference_pairs import build_preference_pairs
from twin_core.training.base_model import register_base_model
from twin_core.training.config import TrainingConfig
from twin_core.training.run import train
from twin_core.training.staging import evaluate_candidate, register_twin, stage_training
from twin_core.training.store_spec import store_from_spec, store_spec  # noqa: F401 (store_spec: re-exported)

REMOTE_KIND = "twin/remote-training"
REMOTE_EVALUATION_KIND = "twin/remote-evaluation"
REMOTE_BASE_KIND = "twin/remote-base-model"
REMOTE_PAIRS_KIND = "twin/remote-preference-pairs"
STAGED = "train_config.json"
STAGE_TIMEOUT_S = 6 * 3600  # a 70B base model is ~140 GB to download
# A retried pod loses at most this many steps; the recipe's own save_steps wins when set.
REMOTE_SAVE_STEPS = 50


def work_root(work_dir: str | os.PathLike[str] | None = None) -> Path:
    """The node's scratch folder for a Job's step: ``TWIN_TRAINER_WORK_DIR`` (the Job template
    points it at the scratch volume), else the system's temp folder."""
    return Path(work_dir or os.environ.get("TWIN_TRAINER_WORK_DIR") or tempfile.gettempdir())


def checkpoint_prefix(run_id: str) -> str:
    """Where a run's checkpoints go: under ``models/``, which the training role may write."""
    return f"models/training-runs/{run_id}/checkpoints"


class RemoteSpec:
    """A step described as inline JSON for the Job; ``kind`` says which step it is."""

    KIND: ClassVar[str]
    LABEL: ClassVar[str]  # for messages: "not a <LABEL> run", "unknown <LABEL> settings"

    def to_json(self) -> str:
        return json.dumps({"kind": self.KIND, **asdict(self)}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if data.get("kind") != cls.KIND:
            raise ValueError(f"not a {cls.LABEL} run (kind {data.get('kind')!r})")
        body = {k: v for k, v in data.items() if k != "kind"}
        unknown = set(body) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.LABEL} settings: {sorted(unknown)}")
        return cls(**body)


@dataclass
class RemoteTraining(RemoteSpec):
    KIND: ClassVar[str] = REMOTE_KIND
    LABEL: ClassVar[str] = "remote training"

    store: dict[str, str]  # store_spec(): where the datasets and the registry are
    base_model_version: str
    dataset_version: str
    preference_version: str | None
    hyperparameters: dict[str, Any]  # TrainingConfig fields other than the paths
    deepspeed: str | None
    lineage: dict[str, Any]  # fingerprint, base model and dataset versions: the card's lineage
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def _wait_for(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        if time.monotonic() > deadline:
            raise TimeoutError(f"local rank 0 did not stage the inputs within {timeout_s:g} s ({path})")
        time.sleep(1.0)


def run_remote(spec: RemoteTraining, work_dir: str | os.PathLike[str] | None = None) -> str | None:
    """Fetch inputs, train, register (rank 0). Returns the version on rank 0, else ``None``.

    Under torchrun every rank runs this: local rank 0 downloads into the node's scratch folder
    (``TWIN_TRAINER_WORK_DIR``, which the Job template points at its scratch volume) while the
    others wait for the staged config, so the base model is fetched once per node.
    """
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    root = work_root(work_dir)
    run_dir = root / f"run-{spec.run_id}"
    staged = run_dir / STAGED
    store = store_from_spec(spec.store)
    if local_rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        config = stage_training(
            store, spec.base_model_version, spec.dataset_version, spec.preference_version,
            spec.hyperparameters, spec.deepspeed, root, run_dir,
        )
        # The retried Job gets the same description (same run_id): it resumes from these.
        config.checkpoint_store = spec.store
        config.checkpoint_prefix = checkpoint_prefix(spec.run_id)
        config.save_steps = config.save_steps or REMOTE_SAVE_STEPS
        config.save(run_dir / f".{STAGED}.tmp").replace(staged)
        print(f"staged base model {spec.base_model_version} and dataset {spec.dataset_version}", flush=True)
    else:
        _wait_for(staged, STAGE_TIMEOUT_S)
    config = TrainingConfig.load(staged)
    result = train(config)
    if rank != 0:
        return None
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    version = register_twin(store, spec.lineage, config, result, {
        "launcher": "kubernetes", "nproc": int(os.environ.get("LOCAL_WORLD_SIZE", world_size)),
        "deepspeed": spec.deepspeed,
    })
    print(f"registered twin version {version} (fingerprint {spec.lineage.get('fingerprint')})", flush=True)
    return version


@dataclass
class RemoteEvaluation(RemoteSpec):
    """The candidate's evaluation (generation and perplexity of twin, base and production) for
    the GPU Job: the Dagster run pod then only reads the summary it wrote beside the card."""

    KIND: ClassVar[str] = REMOTE_EVALUATION_KIND
    LABEL: ClassVar[str] = "remote evaluation"

    store: dict[str, str]
    version: str  # the candidate, resolved (a version, not the alias)
    embedding_model: str
    embedding_backend: str
    max_new_tokens: int
    style_examples: int
    style_tolerance: float
    distractors: list[str]  # other authors' texts, inline (a few kilobytes)


def run_remote_evaluation(spec: RemoteEvaluation, work_dir: str | os.PathLike[str] | None = None) -> None:
    """Evaluate on this machine (rank 0 only: one process generates) and write the summary."""
    if int(os.environ.get("RANK", "0")) != 0:
        return
    from twin_core.embedding import Embedder

    root = work_root(work_dir)
    embedder = Embedder(spec.embedding_model, backend=spec.embedding_backend)
    summary = evaluate_candidate(
        store_from_spec(spec.store), root / f"eval-{spec.version}", embedder.encode_documents, None,
        version=spec.version, max_new_tokens=spec.max_new_tokens, distractors=spec.distractors,
        style_examples=spec.style_examples, style_tolerance=spec.style_tolerance,
    )
    passed = "passed" if summary["promotion"]["passed"] else "failed"
    print(f"evaluated twin version {spec.version}: promotion {passed}", flush=True)


@dataclass
class RemoteBaseModel(RemoteSpec):
    """Registering a Hub or packaged base in a GPU Job: a 70B download (about 140 GB) belongs
    on the node with the scratch volume, not in the Dagster run pod."""

    KIND: ClassVar[str] = REMOTE_BASE_KIND
    LABEL: ClassVar[str] = "remote base model"

    store: dict[str, str]
    source: str


def run_remote_base_model(spec: RemoteBaseModel, work_dir: str | os.PathLike[str] | None = None) -> None:
    """Download and register the base (rank 0 only), then say which version it is."""
    if int(os.environ.get("RANK", "0")) != 0:
        return
    root = work_root(work_dir)
    version, _, created = register_base_model(store_from_spec(spec.store), spec.source, [], root / "base")
    print(f"registered base model {version} from {spec.source} ({'new' if created else 'unchanged'})", flush=True)


@dataclass
class RemotePreferencePairs(RemoteSpec):
    """The preference dataset built in a GPU Job: the base model writes the rejected answers."""

    KIND: ClassVar[str] = REMOTE_PAIRS_KIND
    LABEL: ClassVar[str] = "remote preference pairs"

    store: dict[str, str]
    max_pairs_per_split: int
    max_new_tokens: int
    temperature: float


def run_remote_preference_pairs(spec: RemotePreferencePairs, work_dir: str | os.PathLike[str] | None = None) -> None:
    """Generate and write the pairs (rank 0 only: one process generates)."""
    if int(os.environ.get("RANK", "0")) != 0:
        return
    root = work_root(work_dir)
    build = build_preference_pairs(store_from_spec(spec.store), root / "pairs", spec.max_pairs_per_split,
                                   spec.max_new_tokens, spec.temperature)
    print(f"wrote preference dataset {build.version} from instruction dataset {build.source_version} "
          f"with base model {build.base_version}", flush=True)
