"""The training job description, written to a JSON file so a subprocess launch reads the same."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

# Every linear layer of a Llama block: attention alone cannot move a tiny model's output much.
LLAMA_LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TINY_LEARNING_RATE = 2e-2
DEFAULT_LEARNING_RATE = 2e-4

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
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: list(LLAMA_LINEAR_MODULES))
    learning_rate: float = 2e-3
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    packing: bool = False
    assistant_only_loss: bool = True
    warmup_steps: int = 1  # >= 1: DeepSpeed's WarmupDecayLR needs it
    logging_steps: int = 1
    seed: int = 0
    deepspeed: str | None = None  # "zero2" | "zero3" | "zero3_offload" | path to a JSON config
    bf16: bool = False
    dpo_beta: float = 0.1
    dpo_learning_rate: float = 5e-4
    dpo_max_steps: int = -1
    dpo_num_train_epochs: float = 1.0

    def deepspeed_config_path(self) -> str | None:
        if not self.deepspeed:
            return None
        path = DEEPSPEED_CONFIGS.get(self.deepspeed, Path(self.deepspeed))
        if not Path(path).is_file():
            raise ValueError(f"unknown DeepSpeed config {self.deepspeed!r}; expected one of {sorted(DEEPSPEED_CONFIGS)} or a file")
        return str(path)

    def hyperparameters(self) -> dict[str, Any]:
        """What defines the training recipe (no paths): goes into the model card and fingerprint."""
        skip = {"base_model_dir", "dataset_dir", "output_dir", "preference_dataset_dir"}
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
