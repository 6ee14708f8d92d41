"""Local TGI-compatible server vs in-process ``model.generate``: tokens per second.

Baseline: greedy ``model.generate`` in this process. Measured: the same prompt and token count
through ``twin serve-model`` (a child process) with the official ``text-generation`` client,
non-streaming and streaming. Greedy decoding makes both produce the same tokens. Goal: >= 0.9x.

    .venv/bin/python -m benchmarks.tgi_server [--tokens 64] [--rounds 5]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

PROMPT = "Small teams ship data pipelines that"


def build_model(folder: Path) -> Path:
    from twin_core.models.tiny import TinyModelSpec, build_tiny_model

    words = ["teams", "ship", "data", "pipelines", "that", "measure", "small", "models", "every", "week"]
    corpus = [" ".join(p) + "." for p in itertools.permutations(words, 4)][:3000]
    # Bigger than the test model, so per-token compute (not Python overhead) dominates, as it
    # does for real models.
    spec = TinyModelSpec(hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                         num_attention_heads=8, num_key_value_heads=4)
    return build_tiny_model(corpus, folder, spec)


def in_process(folder: Path, tokens: int, rounds: int) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = tokenizer(PROMPT, return_tensors="pt")
    rates, produced = [], 0
    for i in range(rounds + 1):
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        elapsed = time.perf_counter() - start
        produced = out.shape[1] - ids["input_ids"].shape[1]
        if i:  # the first round warms up
            rates.append(produced / elapsed)
    return statistics.median(rates), produced


def through_server(url: str, tokens: int, rounds: int) -> tuple[float, float, int]:
    from text_generation import Client

    client = Client(url, timeout=300)
    plain, streamed, produced = [], [], 0
    for i in range(rounds + 1):
        start = time.perf_counter()
        reply = client.generate(PROMPT, max_new_tokens=tokens)
        elapsed = time.perf_counter() - start
        produced = reply.details.generated_tokens
        start = time.perf_counter()
        count = sum(1 for _ in client.generate_stream(PROMPT, max_new_tokens=tokens))
        streamed_elapsed = time.perf_counter() - start
        if i:
            plain.append(produced / elapsed)
            streamed.append(count / streamed_elapsed)
    return statistics.median(plain), statistics.median(streamed), produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from twin_serving.processes import start_model_server, stop_server

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model(Path(tmp) / "model")
        baseline, n_base = in_process(folder, args.tokens, args.rounds)
        server = start_model_server(folder, log_path=Path(tmp) / "server.log")
        try:
            plain, streamed, n_server = through_server(server.url, args.tokens, args.rounds)
        finally:
            stop_server(server.pid)
    print(f"tokens per request: in-process {n_base}, server {n_server}")
    print(f"in-process model.generate : {baseline:8.1f} tokens/s (baseline)")
    print(f"server, non-streaming     : {plain:8.1f} tokens/s  ratio {plain / baseline:.2f}x")
    print(f"server, streaming         : {streamed:8.1f} tokens/s  ratio {streamed / baseline:.2f}x")
    print("goal: >= 0.90x")


if __name__ == "__main__":
    main()
