"""The training job description, written to a JSON file so a subprocess launch reads the same."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

# LoRA on every linear layer but the output head, whatever the architecture calls them (Llama's
# q_proj..down_proj, GPT-2's c_attn/c_fc, NeoX's query_key_value, Falcon, Phi): PEFT finds them.
ALL_LINEAR = "all-linear"
TINY_LEARNING_RATE = 2e-2
DEFAULT_LEARNING_RATE = 2e-4
# DPO moves a real model far with little: 5e-7..5e-6 is the usual range; the random tiny model
# needs large steps to move at all.
TINY_DPO_LEARNING_RATE = 5e-4
DEFAULT_DPO_LEARNING_RATE = 5e-6
QUANTIZATIONS = ("none", "4bit", "8bit")

DEEPSPEED_DIR = Path(__file__).parent / "deepspeed"
DEEPSPEED_CONFIGS = {
    "zero2": DEEPSPEED_DIR / "zero2.json",
    "zero3": DEEPSPEED_DIR / "zero3.json",
    "zero3_offload": DEEPSPEED_DIR / "zero3_offload.json",
}


@dataclass
class TrainingConfig:
    base_model_dir: str
    dataset_dir: str  # holds train.jsonl (chat ``messages`` rows)
    output_dir: str
    preference_dataset_dir: str | None = None  # train.jsonl of DPO triples; None = no DPO stage
    method: Literal["lora", "full"] = "lora"
    # LoRA only: also export the adapter merged into the base (engines without adapter support
    # load it); off when the engine loads adapters, which saves the merge and a full model copy
    # per version (a merged copy is then made on first use where one is needed).
    merge_adapter: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: str | list[str] = ALL_LINEAR
    learning_rate: float = 2e-3
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    packing: bool = False
    assistant_only_loss: bool = True  # loss on the answer tokens (and end of turn) only
    chat_template: str | None = None  # overrides the base's template; None: its own, else a default
    warmup_steps: int = 1  # >= 1: DeepSpeed's WarmupDecayLR needs it
    logging_steps: int = 1
    seed: int = 0
    deepspeed: str | None = None  # "zero2" | "zero3" | "zero3_offload" | path to a JSON config
    bf16: bool | None = None  # None: bf16 where the CUDA device supports it, fp32 on CPU
    gradient_checkpointing: bool = True  # recompute activations in backward: memory for compute
    quantization: Literal["none", "4bit", "8bit"] = "none"  # QLoRA (bitsandbytes): CUDA only
    dpo_beta: float = 0.1
    dpo_learning_rate: float = DEFAULT_DPO_LEARNING_RATE
    dpo_max_steps: int = -1
    dpo_num_train_epochs: float = 1.0
    save_steps: int = 0  # > 0: an SFT checkpoint every N steps (uploaded when checkpoint_store is set)
    # The test split (test.jsonl beside train.jsonl) is evaluated at the end of SFT, and every
    # eval_steps steps as well when > 0 (an eval loss curve).
    eval_steps: int = 0
    report_to: list[str] = field(default_factory=list)  # experiment trackers: "mlflow", "wandb"
    checkpoint_store: dict[str, str] | None = None  # store_spec() of the store checkpoints go to
    checkpoint_prefix: str | None = None  # their folder there; a run restarted with it resumes

    def __post_init__(self) -> None:
        if self.checkpoint_store and not self.checkpoint_prefix:
            raise ValueError("checkpoint_store needs a checkpoint_prefix: the run's folder for its checkpoints")
        if self.eval_steps < 0:
            raise ValueError(f"eval_steps must be 0 (evaluate at the end only) or positive, not {self.eval_steps}")
        if self.save_steps < 0:
            raise ValueError(f"save_steps must be 0 (no checkpoints) or positive, not {self.save_steps}")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, not {self.quantization!r}")
        if self.quantization != "none" and self.method != "lora":
            raise ValueError(f"quantization {self.quantization!r} trains a LoRA adapter on a frozen quantized base: set method to lora")

    def deepspeed_config_path(self) -> str | None:
        if not self.deepspeed:
            return None
        path = DEEPSPEED_CONFIGS.get(self.deepspeed, Path(self.deepspeed))
        if not Path(path).is_file():
            raise ValueError(f"unknown DeepSpeed config {self.deepspeed!r}; expected one of {sorted(DEEPSPEED_CONFIGS)} or a file")
        return str(path)

    def hyperparameters(self) -> dict[str, Any]:
        """What defines the training recipe (no paths): goes into the model card and fingerprint."""
        skip = {"base_model_dir", "dataset_dir", "output_dir", "preference_dataset_dir",
                "checkpoint_store", "checkpoint_prefix"}
        out = {k: v for k, v in asdict(self).items() if k not in skip}
        out["dpo"] = self.preference_dataset_dir is not None
        return out

    def save(self, path: str | Path) -> Path:
        Path(path).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> TrainingConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        return cls(**data)


def load_recipe(path: str | Path) -> dict[str, Any]:
    """A training recipe file (YAML or JSON: a mapping of twin_model settings)."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"the training recipe {file} does not exist: create it or unset TWIN_TRAINING_RECIPE")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"the training recipe {file} is not valid YAML or JSON: fix the file ({error.problem})") from error
    if not isinstance(data, dict):
        raise ValueError(f"the training recipe {file} must be a mapping of settings, e.g. `learning_rate: 2e-4`")
    return data
