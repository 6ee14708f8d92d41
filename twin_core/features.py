"""The feature pipeline's incremental steps, as plain functions (the Dagster assets call these).

raw warehouse -> ``clean_warehouse`` -> cleaned warehouse -> ``chunk_warehouse`` -> chunk store
-> ``sync_index`` -> Milvus. Each step redoes only what changed since its last run, and each
is idempotent: a second run with nothing new writes nothing and embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from twin_core.chunking import Chunk, ChunkingConfig, CountTokens, chunk_document
from twin_core.cleaning import clean_document, is_current
from twin_core.documents import Document
from twin_core.object_store import ObjectNotFound, ObjectStore
from twin_core.vector_index import VectorIndex
from twin_core.warehouse import DocumentWarehouse

CHUNKS_PREFIX = "chunks"


def version_of(pairs: dict[str, str] | set[str]) -> str:
    """A content version: hash of sorted ids (and their hashes)."""
    digest = hashlib.sha256()
    items = sorted(pairs.items()) if isinstance(pairs, dict) else sorted((item, "") for item in pairs)
    for key, value in items:
        digest.update(f"{key}\0{value}\n".encode())
    return digest.hexdigest()[:16]


# --- cleaning ---------------------------------------------------------------------------


@dataclass
class CleaningReport:
    cleaned: int = 0
    unchanged: int = 0
    removed: int = 0
    by_category: Counter = field(default_factory=Counter)
    versions: dict[str, str] = field(default_factory=dict)  # id -> cleaned content hash
    examples: list[tuple[Document, Document]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.versions)


def clean_warehouse(raw: DocumentWarehouse, cleaned: DocumentWarehouse, examples: int = 3) -> CleaningReport:
    """Clean new or changed raw documents; drop cleaned records whose raw document is gone."""
    report = CleaningReport()
    current = {(doc.id, doc.platform): doc for doc in cleaned.documents()}
    seen: set[tuple[str, str]] = set()
    for document in raw.documents():
        key = (document.id, document.platform)
        seen.add(key)
        previous = current.get(key)
        if is_current(previous, document):
            report.unchanged += 1
            result = previous
        else:
            result = clean_document(document)
            cleaned.upsert(result)
            report.cleaned += 1
            if len(report.examples) < examples:
                report.examples.append((document, result))
        assert result is not None
        report.versions[result.id] = result.content_hash
        report.by_category[result.category] += 1
    for document_id, platform in set(current) - seen:
        cleaned.delete(document_id, platform)
        report.removed += 1
    return report


# --- chunks -----------------------------------------------------------------------------


class ChunkStore:
    """Each document's chunks as one JSON object: ``chunks/<platform>/<document id>.json``.

    The record remembers which cleaned version and which chunking settings produced it.
    """

    def __init__(self, store: ObjectStore, prefix: str = CHUNKS_PREFIX):
        self.store = store
        self.prefix = prefix

    def key(self, document_id: str, platform: str) -> str:
        return f"{self.prefix}/{platform}/{document_id}.json"

    def get(self, document_id: str, platform: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.store.get_bytes(self.key(document_id, platform)))
        except ObjectNotFound:
            return None

    def put(self, document: Document, version: str, chunks: list[Chunk]) -> None:
        record = {
            "document_id": document.id, "platform": document.platform, "content_hash": document.content_hash,
            "version": version, "chunks": [chunk.to_dict() for chunk in chunks],
        }
        self.store.put_bytes(self.key(document.id, document.platform), json.dumps(record, ensure_ascii=False).encode())

    def delete(self, document_id: str, platform: str) -> None:
        self.store.delete(self.key(document_id, platform))

    def records(self) -> Iterator[dict[str, Any]]:
        for key in self.store.list_keys(f"{self.prefix}/"):
            if key.endswith(".json"):
                yield json.loads(self.store.get_bytes(key))

    def chunks(self) -> Iterator[Chunk]:
        for record in self.records():
            for data in record["chunks"]:
                yield Chunk.from_dict(data)


@dataclass
class ChunkingReport:
    chunked_documents: int = 0
    unchanged_documents: int = 0
    removed_documents: int = 0
    chunk_ids: set[str] = field(default_factory=set)
    by_category: Counter = field(default_factory=Counter)
    max_tokens_seen: int = 0
    token_total: int = 0
    examples: list[Chunk] = field(default_factory=list)


def chunk_warehouse(
    cleaned: DocumentWarehouse,
    chunks: ChunkStore,
    count_tokens: CountTokens,
    config: ChunkingConfig,
    tokenizer_name: str,
    examples: int = 3,
) -> ChunkingReport:
    """Chunk documents whose cleaned version or chunking settings changed; drop removed ones."""
    report = ChunkingReport()
    version = config.version(tokenizer_name)
    existing = {(r["document_id"], r["platform"]): r for r in chunks.records()}
    seen: set[tuple[str, str]] = set()
    for document in cleaned.documents():
        key = (document.id, document.platform)
        seen.add(key)
        record = existing.get(key)
        if (record and record["content_hash"] == document.content_hash and record["version"] == version
                and all(data["url"] == document.url for data in record["chunks"])):
            found = [Chunk.from_dict(data) for data in record["chunks"]]
            report.unchanged_documents += 1
        else:
            found = chunk_document(document, count_tokens, config)
            chunks.put(document, version, found)
            report.chunked_documents += 1
            if len(report.examples) < examples:
                report.examples.extend(found[: examples - len(report.examples)])
        for chunk in found:
            report.chunk_ids.add(chunk.id)
            report.by_category[chunk.category] += 1
            report.max_tokens_seen = max(report.max_tokens_seen, chunk.token_count)
            report.token_total += chunk.token_count
    for document_id, platform in set(existing) - seen:
        chunks.delete(document_id, platform)
        report.removed_documents += 1
    return report


# --- embeddings -------------------------------------------------------------------------


class Encoder(Protocol):
    def encode_documents(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class SyncReport:
    total: int = 0
    embedded: int = 0
    deleted: int = 0
    unchanged: int = 0
    relinked: int = 0  # same text, new address or title: metadata rewritten, vector kept
    seconds_embedding: float = 0.0
    chunk_ids: set[str] = field(default_factory=set)


def sync_index(
    chunks: ChunkStore, index: VectorIndex, encoder: Encoder, batch: int = 256, refresh: bool = True,
    *, author: str | None = None,
) -> SyncReport:
    """Make the collection hold exactly the stored chunks (``author``: of that author's rows
    only, the others' untouched: many authors share one collection).

    Only chunk ids missing from the collection are embedded (an unchanged chunk keeps its id,
    so it is never embedded twice); ids no longer in the store are deleted. Upserts go in
    batches, so a run that dies keeps what it wrote and the next run resumes.
    """
    from twin_core.vector_index import build_filter

    index.ensure_collection()
    current = {chunk.id: chunk for chunk in chunks.chunks()}
    stored = index.scan(build_filter(author=author), ["url", "title"])
    present = set(stored)
    missing = [current[i] for i in sorted(set(current) - present)]
    stale = present - set(current)
    kept = set(current) & present
    # Same text at a new address (a publication moved domain): new metadata, the same vector.
    moved = sorted(i for i in kept if (stored[i]["url"], stored[i]["title"]) != (current[i].url, current[i].title))
    report = SyncReport(total=len(current), unchanged=len(kept) - len(moved), chunk_ids=set(current))
    for start in range(0, len(moved), batch):
        rows = index.get(moved[start : start + batch], with_vectors=True)
        index.upsert([{**current[row["id"]].to_dict(), "vector": row["vector"]} for row in rows])
        report.relinked += len(rows)
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        began = time.perf_counter()
        vectors = encoder.encode_documents([chunk.text for chunk in part])
        report.seconds_embedding += time.perf_counter() - began
        index.upsert([{**chunk.to_dict(), "vector": vector} for chunk, vector in zip(part, vectors, strict=True)])
        report.embedded += len(part)
    if stale:
        report.deleted = index.delete_ids(stale)
    if refresh and (missing or stale or moved):
        index.refresh()
    return report
