"""The recipe a real model needs: LoRA on all-linear layers for any architecture, precision by
device, quantization that refuses on CPU, DPO rates for real models, and the base model and
recipe from settings so automation-started runs (no run config) train what they should."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from tests.datasets.documents import documents
from twin_core.training.config import ALL_LINEAR, TrainingConfig, load_recipe
from twin_core.training.pipeline import automatic_learning_rates


def _rows(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "train.jsonl", "w") as handle:
        for i in range(8):
            messages = [{"role": "system", "content": "You are the writing twin of Ada."},
                        {"role": "user", "content": f"Write a post about tests {i}."},
                        {"role": "assistant", "content": f"Good tests guard every release, number {i}."}]
            handle.write(json.dumps({"messages": messages}) + "\n")
    return folder


def test_quantized_training_refuses_clearly_on_cpu(tmp_path, tiny_model_dir):
    from twin_core.training.run import QuantizationUnavailable, train

    config = TrainingConfig(base_model_dir=str(tiny_model_dir), dataset_dir=str(_rows(tmp_path / "d")),
                            output_dir=str(tmp_path / "out"), quantization="4bit")
    with pytest.raises(QuantizationUnavailable, match="needs a CUDA GPU.*set quantization to none"):
        train(config)
    with pytest.raises(ValueError, match="quantization must be one of none, 4bit, 8bit"):
        TrainingConfig(base_model_dir="b", dataset_dir="d", output_dir="o", quantization="2bit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="set method to lora"):
        TrainingConfig(base_model_dir="b", dataset_dir="d", output_dir="o", quantization="8bit", method="full")


@pytest.mark.slow
def test_all_linear_lora_trains_a_gpt2_architecture_in_fp32_on_cpu(tmp_path, tiny_model_dir):
    """GPT-2 names its layers c_attn/c_fc/c_proj: a fixed Llama module list would find none."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from twin_core.training.launch import launch

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=256,
                                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id))
    base = tmp_path / "gpt2"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    config = TrainingConfig(base_model_dir=str(base), dataset_dir=str(_rows(tmp_path / "d")), output_dir=str(tmp_path / "out"),
                            max_steps=3, per_device_train_batch_size=4, learning_rate=1e-2, max_length=64)
    assert config.lora_target_modules == ALL_LINEAR and config.bf16 is None and config.gradient_checkpointing
    result = launch(config, "in_process")
    assert result["precision"] == "fp32" and result["quantization"] == "none"
    adapter = json.loads((Path(result["adapter_dir"]) / "adapter_config.json").read_text())
    assert {"c_attn", "c_fc", "c_proj"} <= {name.rsplit(".", 1)[-1] for name in adapter["target_modules"]}
    assert result["sft"]["final_loss"] < result["sft"]["first_loss"]


def test_dpo_learning_rate_defaults_to_the_real_model_range():
    real = automatic_learning_rates({"learning_rate": 0, "dpo_learning_rate": 0}, tiny=False)
    assert real["learning_rate"] == 2e-4 and 5e-7 <= real["dpo_learning_rate"] <= 5e-6
    assert automatic_learning_rates({"dpo_learning_rate": 1e-6}, tiny=False)["dpo_learning_rate"] == 1e-6
    assert automatic_learning_rates({}, tiny=True)["dpo_learning_rate"] == 5e-4


def test_recipe_file_sits_under_explicit_run_config(tmp_path):
    from twin_assets.training.assets import TwinModelConfig

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("learning_rate: 1.0e-4\nmax_steps: 50\nlora_r: 8\n")
    explicit = TwinModelConfig(max_steps=5)  # what a run config that sets max_steps gives
    merged = explicit.with_recipe(load_recipe(recipe))
    assert (merged.learning_rate, merged.max_steps, merged.lora_r) == (1e-4, 5, 8)
    recipe.write_text("learning_rte: 1\n")
    with pytest.raises(ValueError, match="unknown settings \\['learning_rte'\\]"):
        TwinModelConfig().with_recipe(load_recipe(recipe))
    with pytest.raises(ValueError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")


def test_base_model_without_run_config_comes_from_settings(tmp_path, monkeypatch):
    """An automation-started run carries no config: TWIN_BASE_MODEL decides the base."""
    from twin_assets.training.assets import base_model
    from twin_core.object_store import LocalFolderStore
    from twin_core.registry import BASE_MODEL, ModelRegistry
    from twin_core.settings import Settings
    from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
    from twin_resources.sets import local_resources

    monkeypatch.setenv("TWIN_BASE_MODEL", "tiny")
    settings = Settings(home=tmp_path)
    warehouse = DocumentWarehouse(LocalFolderStore(settings.store_root), CLEANED_PREFIX)
    for doc in documents():
        warehouse.upsert(doc)
    resources = local_resources(settings)
    result = dg.materialize([base_model], resources={k: resources[k] for k in ("object_store", "trainer")})
    assert result.success
    assert ModelRegistry(LocalFolderStore(settings.store_root), BASE_MODEL).card("latest")["source"] == "tiny"
