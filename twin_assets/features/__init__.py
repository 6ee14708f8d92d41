"""Features stage: clean, chunk and embed the warehouse's documents into Milvus.

Assets: ``cleaned_documents`` -> ``chunks`` -> ``chunk_embeddings`` (checks:
``chunks_are_well_formed``, ``collection_matches_chunks``, ``vectors_match_model``).
They re-run when ``raw_documents`` gets a new data version (``twin_assets.automation``);
``features_job`` runs them on demand.
Env (prod): ``TWIN_MILVUS_URI``, ``TWIN_MILVUS_TOKEN``; optional ``TWIN_EMBEDDING_MODEL``.
"""

import dagster as dg

from twin_assets.features.assets import (
    EMBEDDING_TAGS,
    chunk_embeddings,
    chunks,
    chunks_are_well_formed,
    cleaned_documents,
    collection_matches_chunks,
    vectors_match_model,
)
from twin_assets.features.jobs import features_job

defs = dg.Definitions(
    assets=[cleaned_documents, chunks, chunk_embeddings],
    asset_checks=[chunks_are_well_formed, collection_matches_chunks, vectors_match_model],
    jobs=[features_job],
)

__all__ = ["EMBEDDING_TAGS", "defs"]
