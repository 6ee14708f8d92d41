"""Fold a LoRA adapter into its base: the plain model folder an engine without adapter support
loads. Done once, on the training machine or on first use of an adapter-only version."""

from __future__ import annotations

import os
from pathlib import Path


def merge_adapter(base_dir: str | os.PathLike[str], adapter_dir: str | os.PathLike[str],
                  merged_dir: str | os.PathLike[str]) -> Path:
    """Write base + adapter, merged in the base's own dtype, with the adapter's tokenizer (its
    chat template) and generation settings when it carries them."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    adapter_dir, merged_dir = Path(adapter_dir), Path(merged_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto")
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    if (adapter_dir / "generation_config.json").is_file():
        merged.generation_config = GenerationConfig.from_pretrained(adapter_dir)
    merged.save_pretrained(merged_dir, safe_serialization=True)
    tokenizer_dir = adapter_dir if (adapter_dir / "tokenizer_config.json").is_file() else base_dir
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(merged_dir)
    return merged_dir
