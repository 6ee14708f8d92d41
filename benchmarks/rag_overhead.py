"""RAG overhead without generation, against its floor measured in the same run.

Floor: one query embedding plus one Milvus search (what any RAG must do). Measured: everything
the API does before generation (self-query, expansion into variants embedded in one batch and
searched in one call that also returns the hits' vectors, MMR rerank over those vectors, prompt
assembly counted with the model's tokenizer). Both at 1 and at 32 concurrent requests; p50/p99
latency, errors, and the ratio of each to the floor. Goal: <= 1.5x.

The prompt is counted with SmolLM2-135M-Instruct's tokenizer (the default twin's), within a
900-token model limit; the five retrieved chunks fit (about 560 tokens), so the whole prompt is
counted once. ``--variants N`` sets the query variants (default: the setting, 1: no expansion).

The machine this runs on is usually shared, so the two paths are measured interleaved: each
round runs a floor cell and a RAG cell back to back (alternating which goes first), and the
table reports every round, the best of the rounds for each path (noise only ever adds time),
the range of the per-round ratios, and the CPU time per request (this process plus the Milvus
server), which a busy machine disturbs far less than latency. ``--threads`` sets torch's
thread count for both paths (default: torch's own choice, as the API runs).

    .venv/bin/python -m benchmarks.rag_overhead [--requests 64] [--rounds 5] [--chunks 300] [--threads N] [--variants N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

QUESTIONS = [
    "Write a LinkedIn post about shipping small models in my voice",
    "What did I say in my Medium articles about feature stores?",
    "Draft a Substack note on boring machine learning and rollbacks",
    "Explain my data pipelines with Dagster assets and lineage",
]
SUBJECTS = ["Small teams", "Feature stores", "Vector search", "Data pipelines", "Code reviews", "Clear logs"]
VERBS = ["save", "shape", "guard", "speed up", "explain", "simplify"]
OBJECTS = ["every release", "model launches", "our on-call week", "the roadmap", "weekly demos"]
PLATFORMS = [("linkedin", "post"), ("medium", "article"), ("substack", "post"), ("github", "repository")]


def corpus(n: int) -> list[dict]:
    rows = []
    for i, (s, v, o) in enumerate(itertools.islice(itertools.cycle(itertools.product(SUBJECTS, VERBS, OBJECTS)), n)):
        platform, category = PLATFORMS[i % len(PLATFORMS)]
        text = f"{s} {v} {o}. " * 6 + f"Note {i}: measure first, then ship."
        rows.append({
            "id": hashlib.sha256(f"{i}{text}".encode()).hexdigest()[:32], "document_id": f"doc{i // 3}",
            "author": "Tamsin Vale", "platform": platform, "category": category,
            "url": f"https://example.com/{platform}/{i}", "title": f"{s} {o}", "position": i % 3, "text": text,
        })
    return rows


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


async def measure(fn, total: int, concurrency: int) -> tuple[list[float], int]:
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        async with semaphore:
            start = time.perf_counter()
            try:
                await fn(QUESTIONS[i % len(QUESTIONS)])
            except Exception:
                errors += 1
                return
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(one(i) for i in range(total)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's own choice, as the API runs)")
    parser.add_argument("--chunks", type=int, default=300)
    parser.add_argument("--variants", type=int, default=0,
                        help="query variants per request (default: the setting's, TWIN_QUERY_VARIANTS)")
    args = parser.parse_args()

    from twin_core import milvus_server
    from twin_core.embedding import Embedder
    from twin_core.models.smollm2 import load_tokenizer as smollm2_tokenizer
    from twin_core.settings import Settings
    from twin_core.vector_index import VectorIndex
    from twin_serving.generation import Generator
    from twin_serving.monitoring import Monitor
    from twin_serving.retriever import Retriever
    from twin_serving.service import TokenCounter, TwinRequest, TwinService, load_tokenizer
    from twin_serving.ssrf import make_url_guard
    from twin_serving.tracing import RequestTrace

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        server = milvus_server.start(Path(tmp) / "milvus", log_path=Path(tmp) / "milvus.log")
        try:
            embedder = Embedder()
            index = VectorIndex(server.uri, collection="bench_chunks", dimension=embedder.dimension)
            index.ensure_collection()
            rows = corpus(args.chunks)
            vectors = embedder.encode_documents([r["text"] for r in rows])
            index.upsert([{**r, "vector": v} for r, v in zip(rows, vectors, strict=True)])
            index.refresh()
            model = Path(tmp) / "tokenizer"
            tokenizer = smollm2_tokenizer()
            tokenizer.model_max_length = 8192  # the GGUF's 512 is not the model's context
            tokenizer.save_pretrained(model)
            settings = Settings.of(milvus_uri=server.uri, max_input_tokens=900,
                                   **({"query_variants": args.variants} if args.variants else {}))
            service = TwinService(
                settings.serving, retriever=Retriever(settings, embedder=embedder, index=index),
                generator=Generator("http://127.0.0.1:9"), counter=TokenCounter(load_tokenizer(str(model))),
                monitor=Monitor([]), url_guard=make_url_guard(), known_authors=["Tamsin Vale"],
            )
            # Generation is excluded: the model's limits are given, no TGI is asked.
            service._info = {"model_version": "bench", "max_input_tokens": 900, "max_total_tokens": 1024}
            service._info_at = float("inf")

            async def floor(question: str) -> None:
                def work():
                    vector = embedder.encode_queries([question])
                    index.search(vector, [question], k=settings.serving.top_k)
                await asyncio.to_thread(work)

            async def rag(question: str) -> None:
                request = TwinRequest(question=question, max_new_tokens=64)
                await service.prepare(request, RequestTrace(None, "bench"))

            async def run() -> None:
                await measure(floor, 8, 1)  # warm up both paths
                await measure(rag, 8, 1)
                print(f"{args.chunks} chunks, {args.requests} requests per cell, {args.rounds} interleaved "
                      f"rounds, top_k={settings.serving.top_k}, {settings.serving.query_variants} query variants, "
                      f"{torch_threads()} torch thread(s)")
                header = f"{'':>14} {'conc':>4} {'round':>5} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
                print(f"{header} {'p50 x floor':>12} {'p99 x floor':>12}")
                summary = []
                for concurrency in (1, 32):
                    cells: dict[str, list[tuple[float, float]]] = {"floor": [], "rag": []}
                    cpu = {"floor": 0.0, "rag": 0.0}  # this process + the Milvus server, all rounds
                    ratios: list[tuple[float, float]] = []
                    errors = 0
                    for round_ in range(args.rounds):
                        order = [("floor", floor), ("rag", rag)]
                        if round_ % 2:
                            order.reverse()
                        for name, fn in order:
                            before = time.process_time() + process_cpu_s(server.pid)
                            latencies, failed = await measure(fn, args.requests, concurrency)
                            cpu[name] += time.process_time() + process_cpu_s(server.pid) - before
                            errors += failed
                            cells[name].append((percentile(latencies, 50), percentile(latencies, 99)))
                            assert statistics.mean(latencies) > 0
                        (b50, b99), (f50, f99) = cells["floor"][-1], cells["rag"][-1]
                        ratios.append((f50 / b50, f99 / b99))
                        print(f"{'floor':>14} {concurrency:>4} {round_ + 1:>5} {b50 * 1e3:8.1f} {b99 * 1e3:8.1f}")
                        print(f"{'RAG (no gen)':>14} {concurrency:>4} {round_ + 1:>5} {f50 * 1e3:8.1f} "
                              f"{f99 * 1e3:8.1f} {'':>6} {f50 / b50:12.2f} {f99 / b99:12.2f}")
                    best = {name: (min(c[0] for c in v), min(c[1] for c in v)) for name, v in cells.items()}
                    per_request = {k: v / (args.rounds * args.requests) for k, v in cpu.items()}
                    summary.append((concurrency, best, ratios, errors, per_request))
                print()
                print(f"{'':>14} {'conc':>4} {'best p50':>8} {'best p99':>8} {'errors':>6} "
                      f"{'p50 x floor':>12} {'p99 x floor':>12}   per-round ratio range p50 / p99"
                      f"   CPU ms/request (x floor)")
                for concurrency, best, ratios, errors, per_request in summary:
                    (b50, b99), (f50, f99) = best["floor"], best["rag"]
                    p50s, p99s = [r[0] for r in ratios], [r[1] for r in ratios]
                    cpu_floor, cpu_rag = per_request["floor"], per_request["rag"]
                    print(f"{'floor':>14} {concurrency:>4} {b50 * 1e3:8.1f} {b99 * 1e3:8.1f} {'':>47}"
                          f"{cpu_floor * 1e3:8.1f}")
                    print(f"{'RAG (no gen)':>14} {concurrency:>4} {f50 * 1e3:8.1f} {f99 * 1e3:8.1f} {errors:>6} "
                          f"{f50 / b50:12.2f} {f99 / b99:12.2f}   {min(p50s):.2f}-{max(p50s):.2f} / "
                          f"{min(p99s):.2f}-{max(p99s):.2f}   {cpu_rag * 1e3:8.1f} ({cpu_rag / cpu_floor:.2f}x)")
                print("goal: RAG <= 1.5x floor, 0 errors. CPU counts this process and the Milvus server: "
                      "it moves far less with a busy machine than time does.")

            asyncio.run(run())
            index.close()
        finally:
            milvus_server.stop(server.pid)


if __name__ == "__main__":
    main()
