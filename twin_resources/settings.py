"""Typed settings read from the environment (``TWIN_*``), shared by Dagster, the CLI and the API.

``TWIN_ENV`` is the one environment switch: ``local`` needs no variables and no network;
``prod`` reads every endpoint and secret from the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TwinSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    env: Literal["local", "prod"] = Field("local", description="Which resource set to use.")
    home: Path = Field(Path(".data"), description="Local data root (warehouse, registry, Milvus).")
    profiles: Path = Field(Path("twin.yaml"), description="The authors and their sources.")
    collection_cron: str = Field("0 6 * * *", description="When the daily collection runs (cron).")

    # Features: Milvus and the embedding model
    milvus_uri: str = Field("http://127.0.0.1:19530", description="Milvus URI; locally the `twin milvus start` server.")
    milvus_token: str = Field("", description="Milvus token; empty for Milvus Lite.")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="Embedding model id or folder (BGE ids work).")
    embedding_batch_size: int = Field(32, description="Texts per embedding forward pass.")

    # Object storage (prod)
    s3_bucket: str = Field("", description="Bucket holding warehouse, datasets and models.")
    s3_prefix: str = Field("", description="Key prefix inside the bucket.")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint (MinIO); empty for AWS.")

    @property
    def store_root(self) -> Path:
        return self.home.resolve() / "store"

    @property
    def milvus_dir(self) -> Path:
        """The local Milvus Lite server's data folder (`twin milvus start`, `twin demo`)."""
        return self.home.resolve() / "milvus"


@lru_cache(maxsize=1)
def get_settings() -> TwinSettings:
    return TwinSettings()
