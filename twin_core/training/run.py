"""The trainer: SFT (then optional DPO) of a base model folder, as ``TrainingConfig`` describes.

The same code runs in-process (``train(config)``), as one plain ``python`` process with a
DeepSpeed config, under ``torchrun --nproc_per_node N`` and under ``deepspeed``. Every rank
trains; rank 0 writes the adapter, the merged model and ``result.json`` to ``output_dir``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from twin_core.models.chat import encode_chat, prepare_tokenizer, stop_token_ids
from twin_core.object_store import ObjectStore
from twin_core.training.checkpoints import download_checkpoint, newest_checkpoint, upload_callback
from twin_core.training.config import TrainingConfig
from twin_core.training.store_spec import store_from_spec

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


class QuantizationUnavailable(RuntimeError):
    """4-bit/8-bit training was asked for where it cannot run."""


def resolve_bf16(config: TrainingConfig) -> bool:
    """bf16 where the CUDA device supports it (unless the config says otherwise); fp32 on CPU."""
    import torch

    if config.bf16 is not None:
        return config.bf16
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def quantized_loading(config: TrainingConfig) -> dict[str, Any]:
    """``from_pretrained`` arguments for QLoRA: NF4 with double quantization and bf16 compute
    (4bit), or LLM.int8 (8bit); nothing for ``none``."""
    if config.quantization == "none":
        return {}
    import torch
    from transformers import BitsAndBytesConfig

    if config.quantization == "4bit":
        quant = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    else:
        quant = BitsAndBytesConfig(load_in_8bit=True)
    return {"quantization_config": quant, "device_map": {"": int(os.environ.get("LOCAL_RANK", "0"))}}


def _quiet(trainer: Any) -> None:
    """No per-step dict printed to stdout: the curve is in the result and the model card."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


def _rows(path: Path, keep: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return [{k: row[k] for k in keep} for row in rows]


def _loss_curve(log_history: list[dict[str, Any]]) -> list[list[float]]:
    return [[int(e["step"]), float(e["loss"])] for e in log_history if "loss" in e and "step" in e]


def _eval_curve(log_history: list[dict[str, Any]]) -> list[list[float]]:
    """Eval loss by step, one point per step (the final evaluation may repeat the last one)."""
    by_step = {int(e["step"]): float(e["eval_loss"]) for e in log_history if "eval_loss" in e}
    return [[step, loss] for step, loss in sorted(by_step.items())]


def _eval_rows(tokenizer: Any, config: TrainingConfig) -> list[dict[str, Any]]:
    """The test split as SFT rows; none when the dataset has no test split or no row of it
    keeps an answer token within max_length."""
    path = Path(config.dataset_dir) / "test.jsonl"
    if not path.is_file() or not path.read_text().strip():
        return []
    try:
        return sft_rows(tokenizer, _rows(path, ("messages",)), config.max_length, config.assistant_only_loss)
    except ValueError:
        return []


def check_trackers(report_to: list[str]) -> None:
    """Refuse an experiment tracker whose package is missing, before minutes of loading."""
    import importlib.util

    for tracker in report_to:
        if importlib.util.find_spec(tracker) is None:
            raise ValueError(f"report_to names {tracker}, which is not installed here: pip install {tracker} "
                             "in the training image, or leave report_to empty")


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


def _resume_point(store: ObjectStore, prefix: str | None, checkpoints_dir: Path) -> Path | None:
    """The newest complete uploaded checkpoint, fetched once per node (local rank 0 downloads,
    the other ranks wait); ``None`` for a run's first attempt."""
    name = newest_checkpoint(store, prefix or "")
    if name is None:
        return None
    import torch.distributed as dist

    distributed = dist.is_available() and dist.is_initialized()
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        download_checkpoint(store, prefix or "", name, checkpoints_dir)
        print(f"resuming from {name} of a previous attempt", flush=True)
    if distributed:
        dist.barrier()
    return checkpoints_dir / name


def train(config: TrainingConfig) -> dict[str, Any]:
    """Run SFT (then DPO when a preference dataset is given); returns the result summary."""
    prepare_environment(config)
    import datasets
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    datasets.disable_progress_bars()  # a bar per preparation pass is noise in a training log

    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    use_cpu = not torch.cuda.is_available()
    if config.quantization != "none" and use_cpu:
        raise QuantizationUnavailable(
            f"quantization {config.quantization!r} (QLoRA with bitsandbytes) needs a CUDA GPU and none is "
            "visible here: set quantization to none to train the full-precision base on this machine"
        )
    check_trackers(config.report_to)
    bf16 = resolve_bf16(config)
    deepspeed = config.deepspeed_config_path()
    common: dict[str, Any] = dict(
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        warmup_steps=config.warmup_steps,
        logging_steps=config.logging_steps,
        save_strategy="no",
        report_to=config.report_to,
        seed=config.seed,
        data_seed=config.seed,
        deepspeed=deepspeed,
        bf16=bf16,
        # Explicit, not TRL's default: with LoRA the frozen base needs its inputs to require grad.
        gradient_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        # Several CPU processes need this, or DeepSpeed asserts on train_batch_size.
        use_cpu=use_cpu,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )

    tokenizer = AutoTokenizer.from_pretrained(config.base_model_dir)
    prepare_tokenizer(tokenizer, config.chat_template)
    train_rows = sft_rows(tokenizer, _rows(Path(config.dataset_dir) / "train.jsonl", ("messages",)),
                          config.max_length, config.assistant_only_loss)
    eval_rows = _eval_rows(tokenizer, config)
    checkpoints_dir = output_dir / "checkpoints"
    saving: dict[str, Any] = (
        dict(save_strategy="steps", save_steps=config.save_steps) if config.save_steps else {}
    )
    # Before the model loads: the arguments carry the DeepSpeed config, and under ZeRO-3 that
    # makes from_pretrained load inside zero.Init, each rank holding only its shard (a 70B
    # base would otherwise be loaded whole by every rank first).
    sft_args = SFTConfig(
        output_dir=str(checkpoints_dir),
        learning_rate=config.learning_rate,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        max_length=config.max_length,
        packing=config.packing,
        # The rows come tokenized with their answer mask (sft_rows): TRL's own template-based
        # mask needs {% generation %} markers that real chat templates do not have.
        assistant_only_loss=False,
        per_device_eval_batch_size=config.per_device_train_batch_size,
        eval_strategy="steps" if eval_rows and config.eval_steps else "no",
        eval_steps=config.eval_steps or None,
        **{**common, **saving},
    )
    # LoRA freezes the base: its weights can stay in bf16 (half the memory). A full fine-tune
    # keeps fp32 master weights and trains in bf16 autocast (DeepSpeed casts them itself).
    frozen_bf16 = bf16 and config.method == "lora"
    model = AutoModelForCausalLM.from_pretrained(
        config.base_model_dir, dtype=torch.bfloat16 if frozen_bf16 else torch.float32,
        **quantized_loading(config),
    )
    # ZeRO-3 parameters carry a DeepSpeed id from the moment they are created.
    partitioned_at_load = hasattr(next(model.parameters()), "ds_id")
    if config.quantization != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    # Generation (here, in evaluation and in serving) stops at the template's end of turn.
    model.generation_config.eos_token_id = stop_token_ids(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    peft_config = None
    if config.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=config.lora_target_modules, task_type="CAUSAL_LM",
        )

    started = time.perf_counter()
    store = store_from_spec(config.checkpoint_store) if config.checkpoint_store else None
    # After SFTConfig: under torchrun it has set up torch.distributed, which the download needs.
    resume = _resume_point(store, config.checkpoint_prefix, checkpoints_dir) if store else None
    trainer = SFTTrainer(
        model=model, args=sft_args, train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=tokenizer, peft_config=peft_config,
        callbacks=[upload_callback(store, config.checkpoint_prefix)] if store and config.checkpoint_prefix else None,
    )
    _quiet(trainer)
    sft = _summary(trainer, trainer.train(resume_from_checkpoint=str(resume) if resume else None))
    sft["resumed_from_step"] = int(resume.name.split("-")[1]) if resume else None
    sft["partitioned_at_load"] = partitioned_at_load
    if eval_rows:
        trainer.evaluate()  # the end of SFT, on the test split; its loss joins the curve
        sft["eval_loss_curve"] = _eval_curve(trainer.state.log_history)
        sft["eval_loss"] = sft["eval_loss_curve"][-1][1]
    result: dict[str, Any] = {"sft": sft}
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
        _quiet(final_trainer)
        result["dpo"] = _summary(final_trainer, final_trainer.train())

    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    adapter_dir, merged_dir = output_dir / "adapter", output_dir / "merged"
    # Every rank calls save_model: under ZeRO-3 it gathers the partitioned weights.
    final_trainer.save_model(str(adapter_dir if config.method == "lora" else merged_dir))
    merged = config.method != "lora" or config.merge_adapter
    if rank == 0:
        if config.method == "lora":
            # The chat template used in training travels with the tokenizer, the stop tokens with
            # the generation settings: evaluation and serving render the same prompt, and a
            # merge made later (an adapter-only export) has both.
            tokenizer.save_pretrained(adapter_dir)
            model.generation_config.save_pretrained(adapter_dir)
            if config.merge_adapter:
                _merge_adapter(config.base_model_dir, adapter_dir, merged_dir)
        else:
            tokenizer.save_pretrained(merged_dir)
        result.update(
            world_size=world_size,
            deepspeed=config.deepspeed,
            method=config.method,
            precision="bf16" if bf16 else "fp32",
            quantization=config.quantization,
            wall_s=time.perf_counter() - started,
            # This rank's peak, the figure that says whether a bigger batch or base would fit.
            peak_gpu_memory_gb=torch.cuda.max_memory_allocated() / 2**30 if not use_cpu else None,
            adapter_dir=str(adapter_dir) if config.method == "lora" else None,
            merged_dir=str(merged_dir) if merged else None,
        )
        (output_dir / RESULT_FILE).write_text(json.dumps(result, indent=2))
    if world_size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
    return result


def sft_rows(tokenizer: Any, rows: list[dict[str, Any]], max_length: int, answer_only: bool) -> list[dict[str, Any]]:
    """Tokenized SFT rows; with ``answer_only`` an ``assistant_masks`` column limits the loss to
    the answer and its end of turn (TRL turns it into labels)."""
    out = []
    for row in rows:
        encoded = encode_chat(tokenizer, row["messages"], max_length)
        if answer_only and encoded.answer_tokens == 0:
            continue  # the prompt alone fills max_length: nothing of the answer to learn from
        item: dict[str, Any] = {"input_ids": encoded.input_ids}
        if answer_only:
            item["assistant_masks"] = encoded.answer_mask
        out.append(item)
    if not out:
        raise ValueError(f"no training example keeps any answer token within max_length={max_length}")
    return out


def _merge_adapter(base_dir: str, adapter_dir: Path, merged_dir: Path) -> None:
    """Fold the LoRA weights into a fresh copy of the base: a model TGI loads without peft."""
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    from twin_core.models.merge import merge_adapter

    # After a ZeRO-3 run, from_pretrained would partition the fresh copy across ranks (0-sized
    # tensors on this one); the merge happens on rank 0 alone, outside DeepSpeed.
    unset_hf_deepspeed_config()
    merge_adapter(base_dir, adapter_dir, merged_dir)
