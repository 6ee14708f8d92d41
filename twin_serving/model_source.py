"""Which model folder to serve: the registry's production twin, else the offline base model."""

from __future__ import annotations

from pathlib import Path

from twin_resources.settings import TwinSettings, get_settings


def open_store(settings: TwinSettings):
    """The project's object store, as the Dagster resources open it."""
    from twin_core.object_store import LocalFolderStore, S3Store

    if settings.env == "local":
        return LocalFolderStore(settings.store_root)
    import boto3

    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None)
    return S3Store(client, settings.s3_bucket, settings.s3_prefix)


def registry_source(settings: TwinSettings | None = None):
    """A ``ModelSource``: each call re-reads the production alias (cheap: one small object)."""
    settings = settings or get_settings()
    store = open_store(settings)
    cache_dir = settings.home.resolve() / "cache" / "served-models"

    def source() -> tuple[str, str]:
        from twin_core.registry import resolve_served_model

        path, version = resolve_served_model(store, cache_dir)
        return str(Path(path)), version

    return source


def folder_source(path: str, version: str = ""):
    """A fixed folder (``twin serve-model --model-dir``)."""
    resolved = str(Path(path).resolve())

    def source() -> tuple[str, str]:
        return resolved, version or f"local/{Path(resolved).name}"

    return source
