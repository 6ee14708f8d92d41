"""Milvus as a Dagster resource: always a URI (a Lite server locally, standalone/cluster in prod)."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from twin_core.vector_index import SearchMode, VectorIndex


class MilvusResource(ConfigurableResource):
    """Where chunk vectors live. Assets call ``index(model_name, dimension)``."""

    uri: str = Field("http://127.0.0.1:19530", description="Milvus URI (`twin milvus start` serves the local default).")
    token: str = Field("", description="Milvus token (`user:password` or API key); empty for Lite.")
    search_mode: str = Field("dense", description="Default search: `dense`, or `hybrid` (dense + BM25, RRF); see README.")
    timeout_s: float = Field(120.0, description="Timeout of each Milvus request, in seconds.")

    def index(self, model_name: str, dimension: int) -> VectorIndex:
        """The collection for this embedding model (named from model and dimension)."""
        mode: SearchMode = "hybrid" if self.search_mode == "hybrid" else "dense"
        return VectorIndex.for_model(
            self.uri, model_name, dimension, token=self.token, mode=mode, timeout=self.timeout_s
        )
