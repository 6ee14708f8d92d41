"""A training process killed (SIGKILL) after its first uploaded checkpoint resumes from the newest
complete one when started again: real TRL on the tiny model, ``python -m twin_core.training`` as
the launchers run it, checkpoints in a real local object store."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from twin_core.object_store import LocalFolderStore
from twin_core.training.checkpoints import (
    MANIFEST,
    download_checkpoint,
    newest_checkpoint,
    upload_checkpoint,
)
from twin_core.training.config import TrainingConfig
from twin_core.training.launch import PROJECT_ROOT, command_for, subprocess_env
from twin_core.training.run import RESULT_FILE, train
from twin_core.training.store_spec import store_spec

pytestmark = pytest.mark.slow

PREFIX = "models/training-runs/r1/checkpoints"
MAX_STEPS, SAVE_STEPS = 12, 3


@pytest.fixture(scope="module")
def sft_dataset_dir(tmp_path_factory) -> Path:
    from tests.fixtures.tiny_model import tiny_corpus

    folder = tmp_path_factory.mktemp("sft_data")
    with open(folder / "train.jsonl", "w") as handle:
        for sentence in tiny_corpus()[:16]:
            messages = [
                {"role": "user", "content": f"Write a post about {sentence.split()[1]}."},
                {"role": "assistant", "content": sentence},
            ]
            handle.write(json.dumps({"messages": messages}) + "\n")
    return folder


def _config(tiny_model_dir: Path, data: Path, out: Path, store_root: Path) -> TrainingConfig:
    return TrainingConfig(
        base_model_dir=str(tiny_model_dir), dataset_dir=str(data), output_dir=str(out),
        max_steps=MAX_STEPS, per_device_train_batch_size=4, learning_rate=1e-2, max_length=64,
        save_steps=SAVE_STEPS, checkpoint_store=store_spec(LocalFolderStore(store_root)),
        checkpoint_prefix=PREFIX,
    )


def _start(config: TrainingConfig, folder: Path) -> tuple[subprocess.Popen, Path]:
    config_path = config.save(folder / "config.json")
    log = folder / "train.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(command_for("python", config_path, 1), cwd=PROJECT_ROOT,
                                   env=subprocess_env(), stdout=handle, stderr=subprocess.STDOUT)
    return process, log


def test_killed_run_resumes_from_newest_uploaded_checkpoint(tiny_model_dir, sft_dataset_dir, tmp_path):
    store_root = tmp_path / "store"
    store = LocalFolderStore(store_root)
    first_dir, second_dir = tmp_path / "attempt1", tmp_path / "attempt2"
    first_dir.mkdir()
    second_dir.mkdir()

    first, first_log = _start(_config(tiny_model_dir, sft_dataset_dir, first_dir / "out", store_root), first_dir)
    deadline = time.monotonic() + 60
    while newest_checkpoint(store, PREFIX) is None and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    assert first.wait(30) == -signal.SIGKILL, first_log.read_text()[-3000:]
    assert not (first_dir / "out" / RESULT_FILE).exists()
    newest = newest_checkpoint(store, PREFIX)
    assert newest is not None, first_log.read_text()[-3000:]
    killed_at = int(newest.split("-")[1])
    assert killed_at < MAX_STEPS

    # A fresh machine: nothing local survives, only the store.
    second, second_log = _start(_config(tiny_model_dir, sft_dataset_dir, second_dir / "out", store_root), second_dir)
    assert second.wait(120) == 0, second_log.read_text()[-3000:]
    result = json.loads((second_dir / "out" / RESULT_FILE).read_text())
    sft = result["sft"]
    assert sft["resumed_from_step"] == killed_at
    assert sft["steps"] == MAX_STEPS
    # The curve continues the checkpoint's: one entry per step, none repeated.
    assert [step for step, _ in sft["loss_curve"]] == list(range(1, MAX_STEPS + 1))
    # The second process trained only the steps after the checkpoint: it saved no earlier one.
    log = second_log.read_text()
    uploaded = [int(line.rsplit(" ", 1)[1]) for line in log.splitlines() if line.startswith("uploaded checkpoint at step")]
    assert uploaded == list(range(killed_at + SAVE_STEPS, MAX_STEPS + 1, SAVE_STEPS)), log[-3000:]
    assert f"resuming from {newest}" in log

    # The same recipe, never interrupted (in this process, no checkpoint store).
    reference = train(replace(
        _config(tiny_model_dir, sft_dataset_dir, tmp_path / "reference", store_root),
        save_steps=0, checkpoint_store=None, checkpoint_prefix=None,
    ))["sft"]
    # Resuming restores weights, optimizer, scheduler and RNG state and skips the batches already
    # seen, so the run is the same computation: the loss matches up to float summation order.
    assert sft["final_loss"] == pytest.approx(reference["final_loss"], rel=1e-3), (sft, reference)
    assert sft["train_loss"] is not None and sft["final_loss"] < sft["first_loss"]


def test_a_checkpoint_without_its_manifest_is_never_used(tmp_path):
    store = LocalFolderStore(tmp_path / "store")
    for step in (2, 4):
        folder = tmp_path / "local" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "adapter_model.safetensors").write_bytes(b"weights %d" % step)
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        upload_checkpoint(store, folder, PREFIX)
    # A later upload cut short by the lost node: files, no manifest.
    store.put_bytes(f"{PREFIX}/checkpoint-6/adapter_model.safetensors", b"half")
    assert newest_checkpoint(store, PREFIX) == "checkpoint-4"
    assert newest_checkpoint(store, "models/training-runs/other/checkpoints") is None

    target = tmp_path / "resume"
    (target / "checkpoint-4").mkdir(parents=True)
    (target / "checkpoint-4" / "optimizer.pt").write_bytes(b"half-written local save")
    folder = download_checkpoint(store, PREFIX, "checkpoint-4", target)
    assert sorted(p.name for p in folder.iterdir()) == ["adapter_model.safetensors", "trainer_state.json"]
    assert (folder / "adapter_model.safetensors").read_bytes() == b"weights 4"
    assert MANIFEST not in {p.name for p in folder.iterdir()}
