"""SFT tokens per second on CPU with and without sequence packing.

Baseline: TRL SFT (LoRA, assistant-only loss) on padded batches. Measured: the same data and
model with packing (TRL's best-fit-decreasing packing into ``max_length`` sequences, padding
free). Real (non-pad) tokens per second of training time, one epoch each, same process.
Examples of mixed length are where padding wastes the most compute, as in real author data
(one-line posts next to long article sections).

    .venv/bin/python -m benchmarks.sft_packing [--examples 192] [--max-length 256]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
from pathlib import Path


def build(folder: Path, examples: int, seed: int = 0) -> tuple[Path, Path]:
    from twin_core.models.tiny import TinyModelSpec, build_tiny_model

    words = ["teams", "ship", "data", "pipelines", "that", "measure", "small", "models", "every", "week",
             "tests", "guard", "releases", "logs", "explain", "failures"]
    sentences = [" ".join(p).capitalize() + "." for p in itertools.permutations(words, 5)][:4000]
    rng = random.Random(seed)
    model = build_tiny_model(sentences[:2000], folder / "model", TinyModelSpec(
        hidden_size=128, intermediate_size=352, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2))
    data = folder / "data"
    data.mkdir()
    with open(data / "train.jsonl", "w") as handle:
        for i in range(examples):
            # Mostly short answers and a few long ones: a long tail, like posts vs. articles.
            length = rng.choice([1, 1, 1, 2, 2, 3, 12])
            answer = " ".join(rng.sample(sentences, length))
            messages = [{"role": "user", "content": f"Write a post about {sentences[i].split()[0].lower()}."},
                        {"role": "assistant", "content": answer}]
            handle.write(json.dumps({"messages": messages}) + "\n")
    return model, data


def run(model: Path, data: Path, out: Path, packing: bool, max_length: int, max_steps: int = -1) -> dict:
    from twin_core.training.config import TrainingConfig
    from twin_core.training.launch import launch

    config = TrainingConfig(
        base_model_dir=str(model), dataset_dir=str(data), output_dir=str(out), packing=packing,
        max_length=max_length, per_device_train_batch_size=8, num_train_epochs=1, learning_rate=1e-2,
        logging_steps=5, max_steps=max_steps,
    )
    return launch(config, "in_process")["sft"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=192)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        model, data = build(Path(tmp), args.examples)
        # A short warm-up run so that one-off costs (imports, kernels) hit neither side.
        run(model, data, Path(tmp) / "warmup", False, 64, max_steps=2)
        padded = run(model, data, Path(tmp) / "padded", False, args.max_length)
        packed = run(model, data, Path(tmp) / "packed", True, args.max_length)
    print(f"{'':10}{'steps':>8}{'tokens':>10}{'seconds':>10}{'tokens/s':>12}{'final loss':>12}")
    for name, r in (("padded", padded), ("packed", packed)):
        print(f"{name:10}{r['steps']:>8}{r['tokens']:>10}{r['train_runtime_s']:>10.2f}"
              f"{r['tokens_per_second']:>12.0f}{r['final_loss']:>12.3f}")
    ratio = packed["tokens_per_second"] / padded["tokens_per_second"]
    print(f"packing / padded tokens per second: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
