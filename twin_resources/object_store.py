"""Dagster resources that open the project's object store (local folder or S3)."""

from __future__ import annotations

from dagster import ConfigurableResource
from dagster_aws.s3 import S3Resource
from pydantic import Field

from twin_core.object_store import LocalFolderStore, ObjectStore, S3Store


class ObjectStoreResource(ConfigurableResource):
    """Where the warehouse, datasets and model registry live. Assets only call ``open()``."""

    def open(self) -> ObjectStore:
        raise NotImplementedError


class LocalObjectStoreResource(ObjectStoreResource):
    root: str = Field(description="Folder that plays the bucket on a laptop or in CI.")

    def open(self) -> ObjectStore:
        return LocalFolderStore(self.root)


class S3ObjectStoreResource(ObjectStoreResource):
    s3: S3Resource = Field(description="dagster-aws S3 client settings (region, endpoint, keys).")
    bucket: str = Field(description="Bucket name.")
    prefix: str = Field(default="", description="Key prefix inside the bucket.")

    def open(self) -> ObjectStore:
        return S3Store(self.s3.get_client(), self.bucket, self.prefix)
