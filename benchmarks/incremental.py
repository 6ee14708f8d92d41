"""Incremental refresh: adding 1% new documents vs building the features from scratch.

Run: ``.venv/bin/python -m benchmarks.incremental [--documents 400]``.

The corpus is the demo documents (samples/) repeated under distinct URLs with their paragraphs
shuffled, so every copy is a distinct document with distinct chunks. Each run is the feature
pipeline's own steps (clean -> chunk -> embed into Milvus, with the final flush + reload), with
the model already loaded in both cases (Dagster start-up and model load are left out).
Goal: the refresh takes <= 3% of the full build and embeds only the new documents' chunks.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks._corpus import demo_documents
from twin_core.documents import Document


@dataclass
class Timed:
    seconds: float
    embedded: int
    deleted: int
    chunks: int
    chunked_documents: int


def corpus(n: int, seed: int = 3, offset: int = 0) -> list[Document]:
    rng = random.Random(seed + offset)
    base = demo_documents()
    out = []
    for i in range(offset, offset + n):
        source = base[i % len(base)]
        paragraphs = source.content.split("\n\n")
        rng.shuffle(paragraphs)
        out.append(
            Document.create(
                platform=source.platform, category=source.category, author=source.author,
                url=f"{source.url.rstrip('/')}-copy-{i}", title=f"{source.title} ({i})",
                content="\n\n".join(paragraphs), published_at=source.published_at,
            )
        )
    return out


def refresh(store, index, embedder, config) -> Timed:
    from twin_core.features import ChunkStore, chunk_warehouse, clean_warehouse, sync_index
    from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse

    began = time.perf_counter()
    clean_warehouse(DocumentWarehouse(store), DocumentWarehouse(store, prefix=CLEANED_PREFIX))
    chunked = chunk_warehouse(
        DocumentWarehouse(store, prefix=CLEANED_PREFIX), ChunkStore(store), embedder.count_tokens, config, embedder.model_name
    )
    synced = sync_index(ChunkStore(store), index, embedder)
    return Timed(time.perf_counter() - began, synced.embedded, synced.deleted, synced.total, chunked.chunked_documents)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=400)
    args = parser.parse_args()

    from twin_core import milvus_server
    from twin_core.chunking import ChunkingConfig
    from twin_core.embedding import Embedder
    from twin_core.object_store import LocalFolderStore
    from twin_core.vector_index import VectorIndex
    from twin_core.warehouse import DocumentWarehouse

    embedder = Embedder()
    config = ChunkingConfig(max_tokens=embedder.max_length)
    added = max(1, args.documents // 100)
    with tempfile.TemporaryDirectory() as folder:
        server = milvus_server.start(Path(folder) / "milvus", log_path=Path(folder) / "milvus.log")
        try:
            store = LocalFolderStore(Path(folder) / "store")
            warehouse = DocumentWarehouse(store)
            for document in corpus(args.documents):
                warehouse.upsert(document)
            index = VectorIndex.for_model(server.uri, embedder.model_name, embedder.dimension)
            full = refresh(store, index, embedder, config)
            unchanged = refresh(store, index, embedder, config)
            before = set(index.ids())
            for document in corpus(added, offset=args.documents):
                warehouse.upsert(document)
            incremental = refresh(store, index, embedder, config)
            after = set(index.ids())
            new_chunks = len(after - before)
            index.close()
        finally:
            milvus_server.stop(server.pid)

    print(f"corpus: {args.documents} documents -> {full.chunks} chunks; then +{added} documents (1%) -> {incremental.chunks} chunks")
    print(f"{'run':<22} {'seconds':>8} {'docs chunked':>12} {'embedded':>9} {'ratio to full':>13}")
    for name, run in (("full build", full), ("re-run, no change", unchanged), ("+1% documents", incremental)):
        print(f"{name:<22} {run.seconds:>8.2f} {run.chunked_documents:>12} {run.embedded:>9} {run.seconds / full.seconds:>13.3f}")
    print(f"re-embedded unchanged chunks in the +1% run: {incremental.embedded - new_chunks} (new chunks: {new_chunks})")
    print(f"goal: +1% run <= 3% of full build -> {'met' if incremental.seconds <= 0.03 * full.seconds else 'NOT met'}")


if __name__ == "__main__":
    main()
