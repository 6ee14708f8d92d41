"""GPU: SFT tokens per second with DeepSpeed ZeRO-2 in bf16 against plain TRL, on one GPU.

Baseline: plain TRL ``SFTTrainer`` (full fine-tune, bf16 autocast). Measured: the same run
through DeepSpeed ZeRO-2 (bf16, ``twin_core/training/deepspeed/zero2.json``). Both go through
the project's training entry point as one ``python`` subprocess each, on a ~90M-parameter
Llama built from config (nothing is downloaded). Skips itself without a CUDA device.

    .venv/bin/python -m benchmarks.gpu_zero2 [--steps 40] [--batch 16] [--max-length 512]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
import time
from pathlib import Path


def build(folder: Path, examples: int, seed: int = 0) -> tuple[Path, Path]:
    from twin_core.models.tiny import TinyModelSpec, build_tiny_model

    words = ["teams", "ship", "data", "pipelines", "that", "measure", "small", "models", "every", "week",
             "tests", "guard", "releases", "logs", "explain", "failures", "reviews", "speed", "up", "launches"]
    sentences = [" ".join(p).capitalize() + "." for p in itertools.permutations(words, 6)][:20000]
    rng = random.Random(seed)
    spec = TinyModelSpec(vocab_size=8000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                         num_attention_heads=12, num_key_value_heads=4, max_position_embeddings=1024)
    model = build_tiny_model(sentences[:5000], folder / "model", spec)
    data = folder / "data"
    data.mkdir()
    with open(data / "train.jsonl", "w") as handle:
        for i in range(examples):
            answer = " ".join(rng.sample(sentences, 40))  # ~400 tokens: compute-bound batches
            messages = [{"role": "user", "content": f"Write an article about {sentences[i].split()[1]}."},
                        {"role": "assistant", "content": answer}]
            handle.write(json.dumps({"messages": messages}) + "\n")
    return model, data


def run(model: Path, data: Path, out: Path, deepspeed: str | None, args: argparse.Namespace) -> dict:
    from twin_core.training.config import TrainingConfig
    from twin_core.training.launch import launch

    config = TrainingConfig(
        base_model_dir=str(model), dataset_dir=str(data), output_dir=str(out), method="full",
        bf16=True, deepspeed=deepspeed, max_steps=args.steps, per_device_train_batch_size=args.batch,
        max_length=args.max_length, learning_rate=1e-4, warmup_steps=2, logging_steps=max(1, args.steps // 8),
    )
    started = time.perf_counter()
    result = launch(config, "python")
    result["wall_s"] = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("skipped: no CUDA device (this benchmark needs a GPU)")
        return 0
    print(f"device: {torch.cuda.get_device_name(0)}")
    with tempfile.TemporaryDirectory() as tmp:
        model, data = build(Path(tmp), examples=args.steps * args.batch)
        plain = run(model, data, Path(tmp) / "plain", None, args)
        zero2 = run(model, data, Path(tmp) / "zero2", "zero2", args)
    print(f"{'':12}{'steps':>7}{'tokens':>10}{'train s':>9}{'tokens/s':>11}{'first loss':>12}{'final loss':>12}{'wall s':>8}")
    for name, r in (("plain TRL", plain), ("ZeRO-2 bf16", zero2)):
        s = r["sft"]
        print(f"{name:12}{s['steps']:>7}{s['tokens']:>10}{s['train_runtime_s']:>9.1f}{s['tokens_per_second']:>11.0f}"
              f"{s['first_loss']:>12.3f}{s['final_loss']:>12.3f}{r['wall_s']:>8.1f}")
    ratio = zero2["sft"]["tokens_per_second"] / plain["sft"]["tokens_per_second"]
    print(f"ZeRO-2 / plain tokens per second: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
