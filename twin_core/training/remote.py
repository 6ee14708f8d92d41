"""A training run described for another machine: the Kubernetes Job on GPU nodes.

The Dagster step resolves the versions (base model, datasets), fingerprints the recipe and
passes this description inline as ``--config '{"kind": "twin/remote-training", ...}'``. In the
Job, ``python -m twin_core.training.run`` (one process per GPU under torchrun) fetches the inputs
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
from typing import Any

from twin_core.object_store import LocalFolderStore, ObjectStore, S3Store

REMOTE_KIND = "twin/remote-training"
STAGED = "train_config.json"
STAGE_TIMEOUT_S = 6 * 3600  # a 70B base model is ~140 GB to download


@dataclass
class RemoteTraining:
    store: dict[str, str]  # store_spec(): where the datasets and the registry are
    base_model_version: str
    dataset_version: str
    preference_version: str | None
    hyperparameters: dict[str, Any]  # TrainingConfig fields other than the paths
    deepspeed: str | None
    lineage: dict[str, Any]  # fingerprint, base model and dataset versions: the card's lineage
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def to_json(self) -> str:
        return json.dumps({"kind": REMOTE_KIND, **asdict(self)}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemoteTraining:
        if data.get("kind") != REMOTE_KIND:
            raise ValueError(f"not a remote training run (kind {data.get('kind')!r})")
        body = {k: v for k, v in data.items() if k != "kind"}
        unknown = set(body) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown remote training settings: {sorted(unknown)}")
        return cls(**body)


def store_spec(store: ObjectStore) -> dict[str, str]:
    """How another machine opens the same store. S3 credentials and endpoint are its own
    (pod identity, ``TWIN_S3_ENDPOINT_URL``); only the bucket and prefix travel."""
    if isinstance(store, S3Store):
        return {"kind": "s3", "bucket": store.bucket, "prefix": store.prefix}
    if isinstance(store, LocalFolderStore):
        return {"kind": "local", "root": str(store.root)}
    raise ValueError(f"cannot describe {store.describe()} for a remote training run")


def open_store(spec: dict[str, str]) -> ObjectStore:
    if spec.get("kind") == "local":
        return LocalFolderStore(spec["root"])
    if spec.get("kind") == "s3":
        import boto3

        client = boto3.client("s3", endpoint_url=os.environ.get("TWIN_S3_ENDPOINT_URL") or None)
        return S3Store(client, spec["bucket"], spec.get("prefix", ""))
    raise ValueError(f"unknown store kind {spec.get('kind')!r}")


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
    from twin_core.training.config import TrainingConfig
    from twin_core.training.pipeline import register_twin, stage_training
    from twin_core.training.run import train

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    root = Path(work_dir or os.environ.get("TWIN_TRAINER_WORK_DIR") or tempfile.gettempdir())
    run_dir = root / f"run-{spec.run_id}"
    staged = run_dir / STAGED
    store = open_store(spec.store)
    if local_rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        config = stage_training(
            store, spec.base_model_version, spec.dataset_version, spec.preference_version,
            spec.hyperparameters, spec.deepspeed, root, run_dir,
        )
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
