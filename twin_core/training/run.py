"""The training entry point: ``python -m twin_core.training.run --config FILE``.

The same code runs in-process (``train(config)``), as one plain ``python`` process with a
DeepSpeed config, under ``torchrun --nproc_per_node N`` and under ``deepspeed``. Every rank
trains; rank 0 writes the adapter, the merged model and ``result.json`` to ``output_dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from twin_core.training.config import TrainingConfig

RESULT_FILE = "result.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_environment(config: TrainingConfig) -> None:
    """Environment DeepSpeed needs before it is imported.

    Launched by plain ``python`` with a DeepSpeed config, DeepSpeed falls back to mpi4py unless
    the torch.distributed variables are set, so a single process describes itself as rank 0 of 1.
    Without CUDA, DeepSpeed must be told to use its CPU accelerator (and the gloo backend).
    """
    if config.deepspeed and "RANK" not in os.environ:
        os.environ.update(
            RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
            MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
        )
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")


def _rows(path: Path, keep: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return [{k: row[k] for k in keep} for row in rows]


def _loss_curve(log_history: list[dict[str, Any]]) -> list[list[float]]:
    return [[int(e["step"]), float(e["loss"])] for e in log_history if "loss" in e and "step" in e]


def _summary(trainer: Any, output: Any) -> dict[str, Any]:
    history = trainer.state.log_history
    curve = _loss_curve(history)
    tokens = max((e.get("num_tokens", 0) for e in history), default=0)
    runtime = float(output.metrics.get("train_runtime", 0.0))
    return {
        "loss_curve": curve,
        "first_loss": curve[0][1] if curve else None,
        "final_loss": curve[-1][1] if curve else None,
        "train_loss": output.metrics.get("train_loss"),
        "steps": trainer.state.global_step,
        "train_runtime_s": runtime,
        "tokens": int(tokens),
        "tokens_per_second": (tokens / runtime) if runtime else None,
    }


def train(config: TrainingConfig) -> dict[str, Any]:
    """Run SFT (then DPO when a preference dataset is given); returns the result summary."""
    prepare_environment(config)
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    use_cpu = not torch.cuda.is_available()
    deepspeed = config.deepspeed_config_path()
    common: dict[str, Any] = dict(
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        warmup_steps=config.warmup_steps,
        logging_steps=config.logging_steps,
        save_strategy="no",
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        deepspeed=deepspeed,
        bf16=config.bf16,
        # Several CPU processes need this, or DeepSpeed asserts on train_batch_size.
        use_cpu=use_cpu,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )

    tokenizer = AutoTokenizer.from_pretrained(config.base_model_dir)
    # LoRA freezes the base: its weights can stay in bf16 (half the memory). A full fine-tune
    # keeps fp32 master weights and trains in bf16 autocast (DeepSpeed casts them itself).
    frozen_bf16 = config.bf16 and config.method == "lora"
    model = AutoModelForCausalLM.from_pretrained(
        config.base_model_dir, dtype=torch.bfloat16 if frozen_bf16 else torch.float32
    )
    peft_config = None
    if config.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=config.lora_target_modules, task_type="CAUSAL_LM",
        )

    train_rows = _rows(Path(config.dataset_dir) / "train.jsonl", ("messages",))
    sft_args = SFTConfig(
        output_dir=str(output_dir / "checkpoints"),
        learning_rate=config.learning_rate,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        max_length=config.max_length,
        packing=config.packing,
        assistant_only_loss=config.assistant_only_loss,
        **common,
    )
    started = time.perf_counter()
    trainer = SFTTrainer(
        model=model, args=sft_args, train_dataset=Dataset.from_list(train_rows),
        processing_class=tokenizer, peft_config=peft_config,
    )
    result: dict[str, Any] = {"sft": _summary(trainer, trainer.train())}
    final_trainer = trainer

    if config.preference_dataset_dir:
        from trl import DPOConfig, DPOTrainer

        pairs = _rows(Path(config.preference_dataset_dir) / "train.jsonl", ("prompt", "chosen", "rejected"))
        dpo_args = DPOConfig(
            output_dir=str(output_dir / "dpo_checkpoints"),
            learning_rate=config.dpo_learning_rate,
            num_train_epochs=config.dpo_num_train_epochs,
            max_steps=config.dpo_max_steps,
            max_length=config.max_length,
            beta=config.dpo_beta,
            **common,
        )
        # The SFT model goes on; with an adapter, the reference is the same model with it disabled.
        final_trainer = DPOTrainer(
            model=trainer.model, args=dpo_args, train_dataset=Dataset.from_list(pairs),
            processing_class=tokenizer,
        )
        result["dpo"] = _summary(final_trainer, final_trainer.train())

    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    adapter_dir, merged_dir = output_dir / "adapter", output_dir / "merged"
    # Every rank calls save_model: under ZeRO-3 it gathers the partitioned weights.
    final_trainer.save_model(str(adapter_dir if config.method == "lora" else merged_dir))
    if rank == 0:
        if config.method == "lora":
            _merge_adapter(config.base_model_dir, adapter_dir, merged_dir)
        tokenizer.save_pretrained(merged_dir)
        result.update(
            world_size=world_size,
            deepspeed=config.deepspeed,
            method=config.method,
            wall_s=time.perf_counter() - started,
            adapter_dir=str(adapter_dir) if config.method == "lora" else None,
            merged_dir=str(merged_dir),
        )
        (output_dir / RESULT_FILE).write_text(json.dumps(result, indent=2))
    if world_size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
    return result


def _merge_adapter(base_dir: str, adapter_dir: Path, merged_dir: Path) -> None:
    """Fold the LoRA weights into a fresh copy of the base: a model TGI loads without peft."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    # After a ZeRO-3 run, from_pretrained would partition the fresh copy across ranks (0-sized
    # tensors on this one); the merge happens on rank 0 alone, outside DeepSpeed.
    unset_hf_deepspeed_config()
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(merged_dir, safe_serialization=True)


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
    from twin_core.training.remote import REMOTE_KIND, RemoteTraining, run_remote

    if data.get("kind") == REMOTE_KIND:
        run_remote(RemoteTraining.from_dict(data))
    else:
        train(TrainingConfig.from_dict(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
