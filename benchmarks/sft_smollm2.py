"""SmolLM2-135M-Instruct (the default base) on CPU: SFT tokens per second and generation tokens
per second, batched against one prompt at a time.

SFT: the project's ``train()`` with LoRA on the sample author's LinkedIn posts in the served
prompt shape (system message + request), a warm-up run first so one-off costs hit neither
measurement. Generation: the same prompts answered by ``generate_answers`` in one batch
(the way preference pairs and evaluation generate) and one by one (the baseline), every answer
exactly ``--new-tokens`` long so both sides produce the same number of tokens.

    .venv/bin/python -m benchmarks.sft_smollm2 [--steps 6] [--prompts 8] [--new-tokens 32]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sample_posts() -> list[str]:
    with open(ROOT / "samples" / "linkedin-export" / "Shares.csv", newline="") as handle:
        return [row["ShareCommentary"].strip() for row in csv.DictReader(handle) if len(row["ShareCommentary"]) > 80]


def prompts(posts: list[str]) -> list[list[dict[str, str]]]:
    from twin_core.prompts import twin_prompt

    return [twin_prompt(f"Write a LinkedIn post that starts: {p.split(chr(10))[0][:80]}", "Tamsin Vale", "linkedin")
            for p in posts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args(argv)

    import torch

    from twin_core.models.generate import generate_answers, load_model
    from twin_core.models.smollm2 import export_folder
    from twin_core.training.config import TrainingConfig
    from twin_core.training.launch import launch

    posts = sample_posts()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "smollm2"
        folder.mkdir()
        started = time.perf_counter()
        export_folder(folder)
        print(f"export from GGUF (load + dequantize + save): {time.perf_counter() - started:.1f} s")
        data = Path(tmp) / "data"
        data.mkdir()
        with open(data / "train.jsonl", "w") as handle:
            for prompt, post in zip(prompts(posts), posts, strict=True):
                handle.write(json.dumps({"messages": [*prompt, {"role": "assistant", "content": post}]}) + "\n")

        def sft(out: str, steps: int) -> dict:
            config = TrainingConfig(
                base_model_dir=str(folder), dataset_dir=str(data), output_dir=str(Path(tmp) / out),
                max_steps=steps, per_device_train_batch_size=args.batch, max_length=args.max_length,
                learning_rate=2e-4, logging_steps=1,
            )
            return launch(config, "in_process")["sft"]

        sft("warmup", 1)
        result = sft("measured", args.steps)

        model, tokenizer = load_model(folder)
        batch = prompts(posts[: args.prompts])
        timings = {}
        for name, size in (("one by one", 1), ("batched", len(batch))):
            started = time.perf_counter()
            generate_answers(model, tokenizer, batch, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                             batch_size=size)
            timings[name] = time.perf_counter() - started

    generated = len(batch) * args.new_tokens
    print(f"threads: {torch.get_num_threads()}")
    print(f"SFT (LoRA, batch {args.batch}, max_length {args.max_length}): {result['steps']} steps, "
          f"{result['tokens']} tokens in {result['train_runtime_s']:.1f} s = {result['tokens_per_second']:.0f} tokens/s, "
          f"{result['train_runtime_s'] / result['steps']:.1f} s/step")
    for name, seconds in timings.items():
        print(f"generation {name:<11}: {generated} tokens in {seconds:.1f} s = {generated / seconds:.1f} tokens/s")
    print(f"batched / one by one generation tokens per second: {timings['one by one'] / timings['batched']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
