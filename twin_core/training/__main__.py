"""The training process entry point: ``python -m twin_core.training --config FILE``.

The same command runs in-process launches' subprocesses, ``torchrun --nproc_per_node N``,
``deepspeed`` and the Kubernetes Job: a ``TrainingConfig`` trains here; a remote run (``kind``
``twin/remote-training``) first fetches its inputs from the object store and registers the result;
a remote evaluation (``twin/remote-evaluation``), base model (``twin/remote-base-model``) or
preference pairs run (``twin/remote-preference-pairs``) does that step where the GPU is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from twin_core.training.config import TrainingConfig
from twin_core.training.remote import (
    REMOTE_BASE_KIND,
    REMOTE_EVALUATION_KIND,
    REMOTE_KIND,
    REMOTE_PAIRS_KIND,
    RemoteBaseModel,
    RemoteEvaluation,
    RemotePreferencePairs,
    RemoteTraining,
    run_remote,
    run_remote_base_model,
    run_remote_evaluation,
    run_remote_preference_pairs,
)
from twin_core.training.run import train


def load_run(value: str) -> dict[str, Any]:
    """``--config``: a JSON file, or the JSON itself (starts with ``{``), as the Kubernetes
    launcher passes it."""
    text = value if value.lstrip().startswith("{") else Path(value).read_text()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("--config must hold a JSON object")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fine-tune the twin (SFT, optional DPO).")
    parser.add_argument(
        "--config", required=True,
        help="TrainingConfig JSON file, or a remote run (file or inline JSON): fetch inputs from the object store, train, register",
    )
    # deepspeed's launcher appends --local_rank; LOCAL_RANK in the environment says the same.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None)
    args = parser.parse_args(argv)
    data = load_run(args.config)
    if data.get("kind") == REMOTE_KIND:
        run_remote(RemoteTraining.from_dict(data))
    elif data.get("kind") == REMOTE_EVALUATION_KIND:
        run_remote_evaluation(RemoteEvaluation.from_dict(data))
    elif data.get("kind") == REMOTE_BASE_KIND:
        run_remote_base_model(RemoteBaseModel.from_dict(data))
    elif data.get("kind") == REMOTE_PAIRS_KIND:
        run_remote_preference_pairs(RemotePreferencePairs.from_dict(data))
    else:
        train(TrainingConfig.from_dict(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
