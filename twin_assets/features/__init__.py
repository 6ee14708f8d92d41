"""Features stage: clean, chunk and embed the warehouse's documents into Milvus.

Assets: ``cleaned_documents`` -> ``chunks`` -> ``chunk_embeddings`` (checks:
``chunks_are_well_formed``, ``collection_matches_chunks``, ``vectors_match_model``).
``features_job`` runs them; ``features_sensor`` starts it when ``raw_documents`` changes.
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
from twin_assets.features.sensors import features_job, features_sensor

defs = dg.Definitions(
    assets=[cleaned_documents, chunks, chunk_embeddings],
    asset_checks=[chunks_are_well_formed, collection_matches_chunks, vectors_match_model],
    jobs=[features_job],
    sensors=[features_sensor],
)

__all__ = ["EMBEDDING_TAGS", "defs"]
