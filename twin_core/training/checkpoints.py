"""Checkpoints that outlive the training machine: a retried run resumes where the lost one was.

Every ``save_steps`` checkpoint the Trainer writes (adapter or weights, optimizer, scheduler, RNG
and trainer state) is copied to the object store as soon as it is written, its manifest last: a
checkpoint whose manifest is missing was cut short and is never used. A run started again with
the same ``checkpoint_prefix`` downloads the newest complete one and resumes from it.

    <checkpoint_prefix>/checkpoint-<step>/...            the Trainer's checkpoint folder
    <checkpoint_prefix>/checkpoint-<step>/MANIFEST.json  written last: step and files
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from twin_core.object_store import ObjectStore, upload_folder

MANIFEST = "MANIFEST.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def upload_checkpoint(store: ObjectStore, folder: Path, prefix: str) -> str:
    """Copy one ``checkpoint-N`` folder, then its manifest; returns the checkpoint's key prefix."""
    match = _CHECKPOINT_RE.match(folder.name)
    if not match:
        raise ValueError(f"{folder} is not a Trainer checkpoint folder (checkpoint-<step>)")
    base = f"{prefix.rstrip('/')}/{folder.name}"
    keys = upload_folder(store, folder, base)
    files = [key[len(base) + 1:] for key in keys]
    store.put_bytes(f"{base}/{MANIFEST}", json.dumps({"step": int(match.group(1)), "files": files}).encode())
    return base


def newest_checkpoint(store: ObjectStore, prefix: str) -> str | None:
    """The name (``checkpoint-N``) of the complete checkpoint with the highest step, if any."""
    prefix = prefix.rstrip("/") + "/"
    steps = {}
    for key in store.list_keys(prefix):
        parts = key[len(prefix):].split("/")
        if len(parts) == 2 and parts[1] == MANIFEST and (match := _CHECKPOINT_RE.match(parts[0])):
            steps[int(match.group(1))] = parts[0]
    return steps[max(steps)] if steps else None


def download_checkpoint(store: ObjectStore, prefix: str, name: str, target_dir: Path) -> Path:
    """Fetch the files the manifest lists into ``target_dir/name`` (replacing a local copy,
    which may be the half-written save of the lost run); returns that folder."""
    base = f"{prefix.rstrip('/')}/{name}"
    manifest = json.loads(store.get_bytes(f"{base}/{MANIFEST}"))
    target_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target_dir, prefix=f".{name}."))
    try:
        for file in manifest["files"]:
            path = scratch / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(store.get_bytes(f"{base}/{file}"))
        final = target_dir / name
        shutil.rmtree(final, ignore_errors=True)
        scratch.rename(final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return final


def upload_callback(store: ObjectStore, prefix: str) -> Any:
    """A ``TrainerCallback`` uploading each checkpoint right after the Trainer saved it.

    Every rank waits for the others to finish their part of the save (ZeRO shards); rank 0 then
    uploads the folder. The upload blocks training for its duration.
    """
    from transformers import TrainerCallback

    class UploadCheckpoints(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                dist.barrier()
            if state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                upload_checkpoint(store, folder, prefix)
                print(f"uploaded checkpoint at step {state.global_step}", flush=True)

    return UploadCheckpoints()
