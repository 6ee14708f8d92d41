"""The chunk index in Milvus: schema, index parameters and every read/write, defined once.

Always reached by URI through ``pymilvus.MilvusClient``: a Milvus Lite server on 127.0.0.1
locally, a Milvus standalone/cluster (URI + token) in production. The collection name carries
the embedding model and dimension, so switching models never mixes vectors.

Search filters are Milvus boolean expressions over the scalar fields, for example
``author == "Jane Doe" and platform in ["linkedin", "medium"]`` or ``category != "repository"``;
``build_filter`` writes them (with quoting) from plain keyword values.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np

from twin_core.chunking import Hit

SearchMode = Literal["hybrid", "dense"]
# Dense by default: on the demo-corpus questions hybrid did not beat it (benchmarks/retrieval.py,
# hit@5 1.00 dense vs 0.95 hybrid, MRR@10 0.866 vs 0.868), and it costs one search, not two.
DEFAULT_MODE: SearchMode = "dense"

COLLECTION_PREFIX = "chunks"
# Bump when the schema changes: the name then points to a new collection, which the incremental
# feature sync fills (it embeds every chunk id the collection lacks). v2: author partition key.
SCHEMA_VERSION = 2
# Partition-key buckets: authors are hashed into these; each search filtered by author reads one.
AUTHOR_PARTITIONS = 16
SCALAR_FIELDS = ("document_id", "author", "platform", "category", "url", "title", "position", "text")
OUTPUT_FIELDS = ["id", *SCALAR_FIELDS]

# Field sizes in bytes (VARCHAR max_length). Chunks are at most the embedder's max length in
# tokens (<= 512), far below the text limit.
_VARCHAR = {"id": 64, "document_id": 64, "author": 256, "platform": 32, "category": 32, "url": 2048, "title": 1024, "text": 65535}

# Dense index and search parameters: chosen by benchmarks/retrieval.py (see README, Features).
DENSE_INDEX = {"index_type": "HNSW", "metric_type": "COSINE", "params": {"M": 16, "efConstruction": 200}}
DENSE_SEARCH = {"metric_type": "COSINE", "params": {"ef": 64}}
SPARSE_INDEX = {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25", "params": {"inverted_index_algo": "DAAT_MAXSCORE"}}
SPARSE_SEARCH = {"metric_type": "BM25", "params": {}}
RRF_K = 60
# How many candidates each side of a hybrid search contributes before fusion.
HYBRID_CANDIDATES = 4

_BATCH = 500  # rows per upsert and ids per query/delete expression


def collection_name(model_name: str, dimension: int) -> str:
    from twin_core.embedding import collection_suffix

    return f"{COLLECTION_PREFIX}_v{SCHEMA_VERSION}_{collection_suffix(model_name, dimension)}"


def quote(value: str) -> str:
    """A string literal for a Milvus expression (JSON escaping is valid there)."""
    return json.dumps(str(value), ensure_ascii=False)


def in_list(field: str, values: Iterable[str]) -> str:
    return f"{field} in [{', '.join(quote(v) for v in values)}]"


def build_filter(
    *,
    author: str | Sequence[str] | None = None,
    platform: str | Sequence[str] | None = None,
    category: str | Sequence[str] | None = None,
    document_id: str | Sequence[str] | None = None,
) -> str:
    """An ``and`` of equality (one value) or ``in`` (several) conditions; "" when no condition."""
    parts = []
    for field, value in (("author", author), ("platform", platform), ("category", category), ("document_id", document_id)):
        if value is None:
            continue
        if isinstance(value, str):
            parts.append(f"{field} == {quote(value)}")
        elif value:
            parts.append(in_list(field, value))
    return " and ".join(parts)


def _chunks(items: Sequence[Any], size: int = _BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class VectorIndex:
    """One chunk collection in Milvus.

    ``search`` takes many queries in one call (one round trip, and on Milvus Lite one pass of its
    per-request overhead); ``mode="hybrid"`` fuses the dense vectors with BM25 full-text scores
    on ``text`` using reciprocal rank fusion.
    """

    def __init__(
        self,
        uri: str,
        *,
        collection: str,
        dimension: int,
        token: str = "",
        mode: SearchMode = DEFAULT_MODE,
        timeout: float = 60.0,
        client: Any = None,
    ):
        self.uri = uri
        self.collection = collection
        self.dimension = dimension
        self.mode = mode
        self.timeout = timeout
        self.client = client or _connect(uri, token or "", timeout)

    @classmethod
    def for_model(cls, uri: str, model_name: str, dimension: int, **kwargs: Any) -> VectorIndex:
        return cls(uri, collection=collection_name(model_name, dimension), dimension=dimension, **kwargs)

    def close(self) -> None:
        self.client.close()

    # --- schema -------------------------------------------------------------------------

    def _schema(self) -> Any:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=_VARCHAR["id"])
        # Milvus's multi-tenancy pattern: one collection, the author as partition key, so a
        # search filtered by author reads that author's bucket only.
        schema.add_field("author", DataType.VARCHAR, max_length=_VARCHAR["author"], is_partition_key=True)
        for name in ("document_id", "platform", "category", "url", "title"):
            schema.add_field(name, DataType.VARCHAR, max_length=_VARCHAR[name])
        schema.add_field("position", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=_VARCHAR["text"], enable_analyzer=True, enable_match=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(name="text_bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"])
        )
        return schema

    def _index_params(self) -> Any:
        index_params = self.client.prepare_index_params()
        index_params.add_index(field_name="vector", **DENSE_INDEX)
        index_params.add_index(field_name="sparse", **SPARSE_INDEX)
        return index_params

    def ensure_collection(self) -> bool:
        """Create and load the collection unless it exists; True when it was created."""
        created = False
        if not self.client.has_collection(self.collection, timeout=self.timeout):
            self.client.create_collection(
                self.collection, schema=self._schema(), index_params=self._index_params(),
                num_partitions=AUTHOR_PARTITIONS, timeout=self.timeout,
            )
            created = True
        else:
            self._check_dimension()
        self.load()
        return created

    def _check_dimension(self) -> None:
        found = self.stored_dimension()
        if found != self.dimension:
            raise ValueError(f"collection {self.collection} holds {found}-d vectors, the embedder makes {self.dimension}-d")

    def stored_dimension(self) -> int | None:
        description = self.client.describe_collection(self.collection, timeout=self.timeout)
        for field in description["fields"]:
            if field["name"] == "vector":
                return int(field["params"]["dim"])
        return None

    def exists(self) -> bool:
        return bool(self.client.has_collection(self.collection, timeout=self.timeout))

    def drop(self) -> None:
        self.client.drop_collection(self.collection, timeout=self.timeout)

    # --- writes -------------------------------------------------------------------------

    def upsert(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or replace rows by ``id``. Each row has every scalar field and ``vector``."""
        for batch in _chunks(list(rows)):
            self.client.upsert(self.collection, data=[_row(row) for row in batch], timeout=self.timeout)
        return len(rows)

    def delete_ids(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        for batch in _chunks(ids):
            self.client.delete(self.collection, filter=in_list("id", batch), timeout=self.timeout)
        return len(ids)

    def delete_where(self, filter: str) -> None:
        """Every row matching ``filter`` (e.g. one author's: ``build_filter(author=...)``)."""
        if not filter:
            raise ValueError("refusing to delete without a filter")
        self.client.delete(self.collection, filter=filter, timeout=self.timeout)

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        for batch in _chunks(list(document_ids)):
            self.client.delete(self.collection, filter=in_list("document_id", batch), timeout=self.timeout)

    def refresh(self) -> None:
        """Seal new rows and build their index: flush, then release + load.

        Straight after insert, rows sit in an in-memory table searched brute force; the reload
        builds the segment index (measured ~100x faster queries). Searches during the reload
        are retried by ``search``.
        """
        self.client.flush(self.collection, timeout=self.timeout)
        self.client.release_collection(self.collection, timeout=self.timeout)
        self.load()

    # --- reads --------------------------------------------------------------------------

    def ids(self, filter: str = "") -> dict[str, str]:
        """chunk id -> document id for every row (or those matching ``filter``)."""
        return {i: row["document_id"] for i, row in self.scan(filter, ["document_id"]).items()}

    def scan(self, filter: str, fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """chunk id -> ``fields`` of every row matching ``filter`` (all rows: ``""``), page by page."""
        found: dict[str, dict[str, Any]] = {}
        iterator = self._retry_unloaded(lambda: self.client.query_iterator(
            self.collection, batch_size=1000, filter=filter, output_fields=["id", *fields], timeout=self.timeout
        ))
        try:
            while True:
                page = iterator.next()
                if not page:
                    break
                found.update({row["id"]: row for row in page})
        finally:
            iterator.close()
        return found

    def existing(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` already in the collection."""
        present: set[str] = set()
        for batch in _chunks(list(ids)):
            rows = self._retry_unloaded(lambda batch=batch: self.client.query(
                self.collection, ids=list(batch), output_fields=["id"], timeout=self.timeout))
            present.update(row["id"] for row in rows)
        return present

    def count(self) -> int:
        rows = self._retry_unloaded(lambda: self.client.query(
            self.collection, filter="", output_fields=["count(*)"], timeout=self.timeout))
        return int(rows[0]["count(*)"])

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> list[dict[str, Any]]:
        fields = OUTPUT_FIELDS + (["vector"] if with_vectors else [])
        rows: list[dict[str, Any]] = []
        for batch in _chunks(list(ids)):
            rows.extend(self._retry_unloaded(lambda batch=batch: self.client.query(
                self.collection, ids=list(batch), output_fields=fields, timeout=self.timeout)))
        return rows

    def search(
        self,
        query_vectors: np.ndarray | Sequence[Sequence[float]],
        query_texts: Sequence[str] | None = None,
        *,
        k: int = 10,
        filter: str = "",
        mode: SearchMode | None = None,
        ef: int | None = None,
        with_vectors: bool = False,
    ) -> list[list[Hit]]:
        """Top ``k`` chunks for each query, all queries in one request.

        ``query_texts`` (same order as the vectors) enable the BM25 side of hybrid search;
        without them, or with ``mode="dense"``, only vectors are compared. ``filter`` is a
        Milvus expression (see ``build_filter``). Scores: cosine similarity for dense search,
        fused RRF score for hybrid; higher is better in both. ``with_vectors`` returns each
        hit's stored embedding in the same reply (for MMR), instead of a second read by id.
        """
        vectors = np.asarray(query_vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[None, :]
        if len(vectors) == 0:
            return []
        if vectors.shape[1] != self.dimension:
            raise ValueError(f"query vectors are {vectors.shape[1]}-d, the collection holds {self.dimension}-d")
        if query_texts is not None and len(query_texts) != len(vectors):
            raise ValueError("query_texts and query_vectors differ in length")
        mode = mode or self.mode
        dense_params = {**DENSE_SEARCH, "params": {"ef": max(ef or DENSE_SEARCH["params"]["ef"], k)}}
        data = vectors.tolist()
        fields = OUTPUT_FIELDS + ["vector"] if with_vectors else OUTPUT_FIELDS
        if mode == "hybrid" and query_texts is not None:
            from pymilvus import AnnSearchRequest, RRFRanker

            candidates = max(k * HYBRID_CANDIDATES, k)
            requests = [
                AnnSearchRequest(data=data, anns_field="vector", param=dense_params, limit=candidates, expr=filter or None),
                AnnSearchRequest(data=list(query_texts), anns_field="sparse", param=SPARSE_SEARCH, limit=candidates, expr=filter or None),
            ]
            results = self._retry_unloaded(
                lambda: self.client.hybrid_search(
                    self.collection, requests, RRFRanker(RRF_K), limit=k, output_fields=fields, timeout=self.timeout
                )
            )
        else:
            results = self._retry_unloaded(
                lambda: self.client.search(
                    self.collection, data=data, anns_field="vector", filter=filter, limit=k,
                    output_fields=fields, search_params=dense_params, timeout=self.timeout,
                )
            )
        return [[_hit(hit) for hit in hits] for hits in results]

    def load(self) -> None:
        """Load the collection into memory (a no-op when loaded). Milvus keeps collections on
        disk but not loaded across a server restart: every read needs this first.

        Milvus Lite may still be writing a just-built segment index when the load reads it (an
        EAGAIN "read error" from faiss, more likely with one segment per author bucket); the
        load is then tried again after a pause.
        """
        from pymilvus.exceptions import MilvusException

        for attempt in range(10):
            try:
                self.client.load_collection(self.collection, timeout=self.timeout)
                return
            except MilvusException as error:
                if "temporarily unavailable" not in str(error) or attempt == 9:
                    raise
                time.sleep(0.5 * (attempt + 1))

    def _retry_unloaded(self, call: Any, attempts: int = 20) -> Any:
        """Run a read, loading the collection when Milvus says it is released (after a server
        restart) and riding through the moment ``refresh`` has it released."""
        from pymilvus.exceptions import MilvusException

        for attempt in range(attempts):
            try:
                return call()
            except MilvusException as error:
                if not _is_unloaded(error) or attempt == attempts - 1:
                    raise
                if attempt == 0:
                    self.load()  # blocks until loaded; a reload by ``refresh`` is just as fine
                else:
                    time.sleep(0.25)
        raise AssertionError("unreachable")


def _connect(uri: str, token: str, timeout: float) -> Any:
    """A client for ``uri``. pymilvus shares one channel per address and re-dials a closed one
    with a 2 s handshake limit, which a busy machine can miss once: one more try, then the error."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    try:
        return MilvusClient(uri=uri, token=token, timeout=timeout)
    except MilvusException as error:
        if getattr(error, "code", None) != 2:  # CONNECT_FAILED
            raise
        time.sleep(0.5)
        return MilvusClient(uri=uri, token=token, timeout=timeout)


def _is_unloaded(error: Any) -> bool:
    message = str(error).lower()
    return getattr(error, "code", None) == 101 or any(
        w in message for w in ("not loaded", "released", "loading", "not load")
    )


def _row(row: dict[str, Any]) -> dict[str, Any]:
    out = {name: row[name] for name in ("id", *SCALAR_FIELDS)}
    out["position"] = int(out["position"])
    out["vector"] = np.asarray(row["vector"], dtype=np.float32).tolist()
    return out


def _hit(raw: dict[str, Any]) -> Hit:
    entity = raw.get("entity", raw)
    return Hit(
        id=str(raw.get("id", entity.get("id"))),
        document_id=entity["document_id"],
        author=entity["author"],
        platform=entity["platform"],
        category=entity["category"],
        url=entity["url"],
        title=entity["title"],
        position=int(entity["position"]),
        text=entity["text"],
        score=float(raw.get("distance", raw.get("score", 0.0))),
        vector=None if entity.get("vector") is None else tuple(map(float, entity["vector"])),
    )
