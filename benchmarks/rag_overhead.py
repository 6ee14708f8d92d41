"""RAG overhead without generation, against its floor measured in the same run.

Floor: one query embedding plus one Milvus search (what any RAG must do). Measured: everything
the API does before generation (self-query, expansion into variants searched in one batched call,
MMR rerank with vectors read back from Milvus, prompt assembly counted with the model's
tokenizer). Both at 1 and at 32 concurrent requests; p50/p99 latency, errors, and the ratio of
each to the floor. Goal: <= 1.5x.

    .venv/bin/python -m benchmarks.rag_overhead [--requests 64] [--chunks 300]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
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
    parser.add_argument("--chunks", type=int, default=300)
    args = parser.parse_args()

    from twin_core import milvus_server
    from twin_core.embedding import Embedder
    from twin_core.models.tiny import build_tiny_model
    from twin_core.vector_index import VectorIndex
    from twin_serving.generation import Generator
    from twin_serving.monitoring import Monitor
    from twin_serving.retriever import Retriever
    from twin_serving.service import TokenCounter, TwinRequest, TwinService, load_tokenizer
    from twin_serving.settings import ServingSettings
    from twin_serving.ssrf import make_url_guard
    from twin_serving.tracing import RequestTrace

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
            model = build_tiny_model([r["text"] for r in rows], Path(tmp) / "model")
            settings = ServingSettings(milvus_uri=server.uri, max_input_tokens=900)
            service = TwinService(
                settings, retriever=Retriever(settings, embedder=embedder, index=index),
                generator=Generator("http://127.0.0.1:9"), counter=TokenCounter(load_tokenizer(str(model))),
                monitor=Monitor([]), url_guard=make_url_guard(), known_authors=["Tamsin Vale"],
            )
            # Generation is excluded: the model's limits are given, no TGI is asked.
            service._info = {"model_version": "bench", "max_input_tokens": 900, "max_total_tokens": 1024}
            service._info_at = float("inf")

            async def floor(question: str) -> None:
                def work():
                    vector = embedder.encode_queries([question])
                    index.search(vector, [question], k=settings.top_k)
                await asyncio.to_thread(work)

            async def rag(question: str) -> None:
                request = TwinRequest(question=question, max_new_tokens=64)
                await service.prepare(request, RequestTrace(None, "bench"))

            async def run() -> None:
                await measure(floor, 8, 1)  # warm up both paths
                await measure(rag, 8, 1)
                print(f"{args.chunks} chunks, {args.requests} requests per cell, top_k={settings.top_k}, "
                      f"{settings.query_variants} query variants")
                print(f"{'':>14} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'p50 x floor':>12} {'p99 x floor':>12}")
                for concurrency in (1, 32):
                    base, base_err = await measure(floor, args.requests, concurrency)
                    full, full_err = await measure(rag, args.requests, concurrency)
                    b50, b99 = percentile(base, 50), percentile(base, 99)
                    f50, f99 = percentile(full, 50), percentile(full, 99)
                    print(f"{'floor':>14} {concurrency:>4} {b50 * 1e3:8.1f} {b99 * 1e3:8.1f} {base_err:>6} {'1.00':>12} {'1.00':>12}")
                    print(f"{'RAG (no gen)':>14} {concurrency:>4} {f50 * 1e3:8.1f} {f99 * 1e3:8.1f} {full_err:>6} "
                          f"{f50 / b50:12.2f} {f99 / b99:12.2f}")
                    assert statistics.mean(full) > 0
                print("goal: RAG <= 1.5x floor, 0 errors")

            asyncio.run(run())
            index.close()
        finally:
            milvus_server.stop(server.pid)


if __name__ == "__main__":
    main()
