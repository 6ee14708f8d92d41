"""Feature assets: raw documents -> cleaned documents -> chunks -> vectors in Milvus.

Thin wrappers over ``twin_core.features``; each step is incremental and idempotent.
"""

import dagster as dg

from twin_core.chunking import ChunkingConfig
from twin_core.features import ChunkStore, chunk_warehouse, clean_warehouse, sync_index, version_of
from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
from twin_resources.embedder import EmbedderResource
from twin_resources.milvus import MilvusResource
from twin_resources.object_store import ObjectStoreResource

GROUP = "features"
EMBEDDING_TAGS = {"twin/compute": "embedding"}


def _md_table(headers: list[str], rows: list[list[object]]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ⏎ ")[:160]

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@dg.asset(
    group_name=GROUP,
    kinds={"python", "s3"},
    deps=["raw_documents"],
    description=(
        "Raw documents cleaned per category without losing the author's voice (styled letters to "
        "plain, prose whitespace collapsed, tracking parameters dropped, code untouched), stored in "
        "the warehouse under cleaned/. Only new or changed documents are cleaned."
    ),
)
def cleaned_documents(context: dg.AssetExecutionContext, object_store: ObjectStoreResource) -> dg.MaterializeResult:
    store = object_store.open()
    report = clean_warehouse(DocumentWarehouse(store), DocumentWarehouse(store, prefix=CLEANED_PREFIX))
    context.log.info(f"{report.cleaned} cleaned, {report.unchanged} unchanged, {report.removed} removed")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version_of(report.versions)),
        metadata={
            "documents": dg.MetadataValue.int(report.total),
            "cleaned": dg.MetadataValue.int(report.cleaned),
            "unchanged": dg.MetadataValue.int(report.unchanged),
            "removed": dg.MetadataValue.int(report.removed),
            "by_category": dg.MetadataValue.json(dict(report.by_category)),
            "warehouse": dg.MetadataValue.text(f"{store.describe()} (prefix {CLEANED_PREFIX}/)"),
            "examples": dg.MetadataValue.md(
                _md_table(
                    ["category", "before", "after"],
                    [[after.category, before.content[:150], after.content[:150]] for before, after in report.examples],
                )
            ),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "s3"},
    deps=[cleaned_documents],
    description=(
        "Token-aware chunks (the embedder's tokenizer, never over its max length): posts whole, "
        "articles by heading/paragraph/sentence with overlap, code by function/class or blank-line "
        "block with its file path. Chunk id = hash(document id, text). Stored under chunks/."
    ),
)
def chunks(
    context: dg.AssetExecutionContext, object_store: ObjectStoreResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    from transformers import AutoTokenizer

    from twin_core.embedding import model_defaults, resolve_model

    name, path = resolve_model(embedder.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    max_length = model_defaults(name, path)["max_length"] or min(int(tokenizer.model_max_length), 512)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    store = object_store.open()
    report = chunk_warehouse(
        DocumentWarehouse(store, prefix=CLEANED_PREFIX), ChunkStore(store), count, ChunkingConfig(max_tokens=max_length), name
    )
    total = len(report.chunk_ids)
    context.log.info(f"{report.chunked_documents} documents chunked, {report.unchanged_documents} unchanged, {total} chunks")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version_of(report.chunk_ids)),
        metadata={
            "chunks": dg.MetadataValue.int(total),
            "chunked_documents": dg.MetadataValue.int(report.chunked_documents),
            "unchanged_documents": dg.MetadataValue.int(report.unchanged_documents),
            "removed_documents": dg.MetadataValue.int(report.removed_documents),
            "by_category": dg.MetadataValue.json(dict(report.by_category)),
            "max_tokens_allowed": dg.MetadataValue.int(max_length),
            "max_tokens_seen": dg.MetadataValue.int(report.max_tokens_seen),
            "mean_tokens": dg.MetadataValue.float(report.token_total / total if total else 0.0),
            "tokenizer": dg.MetadataValue.text(name),
            "examples": dg.MetadataValue.md(
                _md_table(["category", "tokens", "text"], [[c.category, c.token_count, c.text] for c in report.examples])
            ),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "milvus"},
    deps=[chunks],
    op_tags=EMBEDDING_TAGS,
    description=(
        "Chunk vectors in Milvus (collection named from model and dimension; dense HNSW + BM25). "
        "Embeds only chunk ids missing from the collection, deletes ids no longer current, then "
        "flushes and reloads so new rows are indexed."
    ),
)
def chunk_embeddings(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    embedder: EmbedderResource,
    milvus: MilvusResource,
) -> dg.MaterializeResult:
    model = embedder.load()
    index = milvus.index(model.model_name, model.dimension)
    try:
        report = sync_index(ChunkStore(object_store.open()), index, model)
    finally:
        index.close()
    context.log.info(f"{report.embedded} embedded, {report.deleted} deleted, {report.unchanged} unchanged")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version_of({index.collection, *report.chunk_ids})),
        metadata={
            "chunks": dg.MetadataValue.int(report.total),
            "embedded": dg.MetadataValue.int(report.embedded),
            "deleted": dg.MetadataValue.int(report.deleted),
            "unchanged": dg.MetadataValue.int(report.unchanged),
            "texts_per_second": dg.MetadataValue.float(
                report.embedded / report.seconds_embedding if report.seconds_embedding else 0.0
            ),
            "collection": dg.MetadataValue.text(index.collection),
            "model": dg.MetadataValue.text(model.model_name),
            "dimension": dg.MetadataValue.int(model.dimension),
            "milvus": dg.MetadataValue.url(milvus.uri) if milvus.uri.startswith("http") else dg.MetadataValue.text(milvus.uri),
        },
    )


# --- checks -----------------------------------------------------------------------------


@dg.asset_check(asset=chunks, blocking=True, description="No chunk is empty or longer than the embedder's max length.")
def chunks_are_well_formed(object_store: ObjectStoreResource, embedder: EmbedderResource) -> dg.AssetCheckResult:
    from twin_core.embedding import model_defaults, resolve_model

    name, path = resolve_model(embedder.model)
    limit = model_defaults(name, path)["max_length"] or 512
    stored = list(ChunkStore(object_store.open()).chunks())
    empty = [c.id for c in stored if not c.text.strip()]
    too_long = [c.id for c in stored if c.token_count > limit]
    return dg.AssetCheckResult(
        passed=not empty and not too_long,
        metadata={
            "chunks": dg.MetadataValue.int(len(stored)),
            "empty": dg.MetadataValue.int(len(empty)),
            "too_long": dg.MetadataValue.int(len(too_long)),
        },
    )


@dg.asset_check(
    asset=chunk_embeddings,
    description="The collection holds exactly the current chunks (same count, same ids) and nothing else.",
)
def collection_matches_chunks(
    object_store: ObjectStoreResource, embedder: EmbedderResource, milvus: MilvusResource
) -> dg.AssetCheckResult:
    from twin_core.embedding import model_dimension

    name, dimension = model_dimension(embedder.model)
    expected = {c.id for c in ChunkStore(object_store.open()).chunks()}
    index = milvus.index(name, dimension)
    try:
        present = set(index.ids()) if index.exists() else set()
        count = index.count() if index.exists() else 0
    finally:
        index.close()
    missing, extra = expected - present, present - expected
    return dg.AssetCheckResult(
        passed=not missing and not extra and count == len(expected),
        metadata={
            "expected": dg.MetadataValue.int(len(expected)),
            "in_collection": dg.MetadataValue.int(count),
            "missing": dg.MetadataValue.int(len(missing)),
            "extra": dg.MetadataValue.int(len(extra)),
            "collection": dg.MetadataValue.text(index.collection),
        },
    )


@dg.asset_check(asset=chunk_embeddings, description="Stored vectors have the embedding model's dimension and unit length.")
def vectors_match_model(embedder: EmbedderResource, milvus: MilvusResource) -> dg.AssetCheckResult:
    import numpy as np

    from twin_core.embedding import model_dimension

    name, dimension = model_dimension(embedder.model)
    index = milvus.index(name, dimension)
    try:
        if not index.exists():
            return dg.AssetCheckResult(passed=False, metadata={"reason": dg.MetadataValue.text("no collection")})
        schema_dimension = index.stored_dimension()
        sample = index.get(sorted(index.ids())[:20], with_vectors=True)
    finally:
        index.close()
    lengths = sorted({len(row["vector"]) for row in sample})
    norms = [float(np.linalg.norm(row["vector"])) for row in sample]
    return dg.AssetCheckResult(
        passed=schema_dimension == dimension and lengths in ([], [dimension]) and all(abs(n - 1) < 1e-3 for n in norms),
        metadata={
            "model_dimension": dg.MetadataValue.int(dimension),
            "collection_dimension": dg.MetadataValue.int(schema_dimension or 0),
            "sampled_vectors": dg.MetadataValue.int(len(sample)),
        },
    )
