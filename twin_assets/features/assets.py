"""Feature assets: raw documents -> cleaned documents -> chunks -> vectors in Milvus.

Thin wrappers over ``twin_core.features``; each step is incremental and idempotent.
"""

import dagster as dg

from twin_assets.authors import AUTHORS, author_of, author_store
from twin_assets.automation import EMBEDDING_POOL, on_new_data
from twin_assets.metadata import md_table
from twin_core.chunking import ChunkingConfig
from twin_core.features import ChunkStore, chunk_warehouse, clean_warehouse, sync_index, version_of
from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
from twin_resources.embedder import EmbedderResource
from twin_resources.milvus import MilvusResource
from twin_resources.object_store import ObjectStoreResource
from twin_resources.profiles import ProfilesResource

GROUP = "features"
EMBEDDING_TAGS = {"twin/compute": "embedding"}


@dg.asset(
    group_name=GROUP,
    kinds={"python", "s3"},
    deps=["raw_documents"],
    partitions_def=AUTHORS,
    automation_condition=on_new_data(),
    description=(
        "Raw documents cleaned per category without losing the author's voice (styled letters to "
        "plain, prose whitespace collapsed, tracking parameters dropped, code untouched), stored in "
        "the warehouse under cleaned/. Only new or changed documents are cleaned."
    ),
)
def cleaned_documents(context: dg.AssetExecutionContext, object_store: ObjectStoreResource) -> dg.MaterializeResult:
    store = author_store(context, object_store)
    report = clean_warehouse(DocumentWarehouse(store), DocumentWarehouse(store, prefix=CLEANED_PREFIX))
    context.log.info(f"{report.cleaned} cleaned, {report.unchanged} unchanged, {report.removed} removed")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version_of(report.versions)),
        metadata={
            "documents": report.total,
            "cleaned": report.cleaned,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "by_category": dg.MetadataValue.json(dict(report.by_category)),
            "warehouse": f"{store.describe()} (prefix {store.key(CLEANED_PREFIX)}/)",
            "examples": dg.MetadataValue.md(
                md_table(
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
    partitions_def=AUTHORS,
    automation_condition=dg.AutomationCondition.eager(),
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

    store = author_store(context, object_store)
    report = chunk_warehouse(
        DocumentWarehouse(store, prefix=CLEANED_PREFIX), ChunkStore(store), count, ChunkingConfig(max_tokens=max_length), name
    )
    total = len(report.chunk_ids)
    context.log.info(f"{report.chunked_documents} documents chunked, {report.unchanged_documents} unchanged, {total} chunks")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version_of(report.chunk_ids)),
        metadata={
            "chunks": total,
            "chunked_documents": report.chunked_documents,
            "unchanged_documents": report.unchanged_documents,
            "removed_documents": report.removed_documents,
            "by_category": dg.MetadataValue.json(dict(report.by_category)),
            "max_tokens_allowed": max_length,
            "max_tokens_seen": report.max_tokens_seen,
            "mean_tokens": report.token_total / total if total else 0.0,
            "tokenizer": name,
            "examples": dg.MetadataValue.md(
                md_table(["category", "tokens", "text"], [[c.category, c.token_count, c.text] for c in report.examples])
            ),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "milvus"},
    deps=[chunks],
    partitions_def=AUTHORS,
    op_tags=EMBEDDING_TAGS,
    pool=EMBEDDING_POOL,
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "The author's chunk vectors in Milvus: one collection for every author (named from model "
        "and dimension; dense HNSW + BM25), the author its partition key. Embeds only the author's "
        "chunk ids missing from it, deletes their ids no longer current (never another author's), "
        "then flushes and reloads so new rows are indexed."
    ),
)
def chunk_embeddings(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    embedder: EmbedderResource,
    milvus: MilvusResource,
    profiles: ProfilesResource,
) -> dg.MaterializeResult:
    author = author_of(context, profiles)
    model = embedder.load()
    index = milvus.index(model.model_name, model.dimension)
    try:
        report = sync_index(ChunkStore(author_store(context, object_store)), index, model, author=author.name)
    finally:
        index.close()
    context.log.info(f"{report.embedded} embedded, {report.relinked} relinked, {report.deleted} deleted, "
                     f"{report.unchanged} unchanged")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version_of({index.collection, *report.chunk_ids})),
        metadata={
            "chunks": report.total,
            "embedded": report.embedded,
            "deleted": report.deleted,
            "unchanged": report.unchanged,
            "relinked": report.relinked,
            "texts_per_second": report.embedded / report.seconds_embedding if report.seconds_embedding else 0.0,
            "collection": index.collection,
            "author": author.name,
            "model": model.model_name,
            "dimension": model.dimension,
            "milvus": dg.MetadataValue.url(milvus.uri) if milvus.uri.startswith("http") else milvus.uri,
        },
    )


# --- checks -----------------------------------------------------------------------------


@dg.asset_check(asset=chunks, blocking=True,
                description="No chunk is empty or longer than the embedder's max length.")
def chunks_are_well_formed(context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource,
                           embedder: EmbedderResource) -> dg.AssetCheckResult:
    from twin_core.embedding import model_defaults, resolve_model

    name, path = resolve_model(embedder.model)
    limit = model_defaults(name, path)["max_length"] or 512
    stored = list(ChunkStore(author_store(context, object_store)).chunks())
    empty = [c.id for c in stored if not c.text.strip()]
    too_long = [c.id for c in stored if c.token_count > limit]
    return dg.AssetCheckResult(
        passed=not empty and not too_long,
        metadata={
            "chunks": len(stored),
            "empty": len(empty),
            "too_long": len(too_long),
        },
    )


@dg.asset_check(
    asset=chunk_embeddings,
    description="The collection holds exactly the author's current chunks under their name (same ids), nothing of theirs besides; run alone (no author), every author's.",
)
def collection_matches_chunks(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource, embedder: EmbedderResource,
    milvus: MilvusResource, profiles: ProfilesResource,
) -> dg.AssetCheckResult:
    from twin_core.authors import AuthorStore, author_slug
    from twin_core.embedding import model_dimension
    from twin_core.vector_index import build_filter

    if context.has_partition_key:
        authors = [author_of(context, profiles)]
    else:
        authors = profiles.load().authors
    name, dimension = model_dimension(embedder.model)
    store = object_store.open()
    index = milvus.index(name, dimension)
    missing: set[str] = set()
    extra: set[str] = set()
    expected_total = count = 0
    try:
        exists = index.exists()
        for author in authors:
            expected = {c.id for c in ChunkStore(AuthorStore(store, author_slug(author.name))).chunks()}
            present = set(index.ids(build_filter(author=author.name))) if exists else set()
            missing |= expected - present
            extra |= present - expected
            expected_total += len(expected)
            count += len(present)
    finally:
        index.close()
    return dg.AssetCheckResult(
        passed=not missing and not extra and count == expected_total,
        metadata={
            "authors": len(authors),
            "expected": expected_total,
            "in_collection": count,
            "missing": len(missing),
            "extra": len(extra),
            "collection": index.collection,
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
            return dg.AssetCheckResult(passed=False, metadata={"reason": "no collection"})
        schema_dimension = index.stored_dimension()
        sample = index.get(sorted(index.ids())[:20], with_vectors=True)
    finally:
        index.close()
    lengths = sorted({len(row["vector"]) for row in sample})
    norms = [float(np.linalg.norm(row["vector"])) for row in sample]
    return dg.AssetCheckResult(
        passed=schema_dimension == dimension and lengths in ([], [dimension]) and all(abs(n - 1) < 1e-3 for n in norms),
        metadata={
            "model_dimension": dimension,
            "collection_dimension": schema_dimension or 0,
            "sampled_vectors": len(sample),
        },
    )
