"""How another process or machine opens the same object store: a small JSON-able spec."""

from __future__ import annotations

from twin_core.authors import AuthorStore
from twin_core.object_store import LocalFolderStore, ObjectStore, S3Store, open_store
from twin_core.settings import Settings


def store_spec(store: ObjectStore) -> dict[str, str]:
    """How another machine opens the same store. S3 credentials and endpoint are its own
    (pod identity, ``TWIN_S3_ENDPOINT_URL``); only the bucket and prefix travel. An author's
    view travels as the store plus the author's slug."""
    if isinstance(store, AuthorStore):
        return {**store_spec(store.store), "author": store.slug}
    if isinstance(store, S3Store):
        return {"kind": "s3", "bucket": store.bucket, "prefix": store.prefix}
    if isinstance(store, LocalFolderStore):
        return {"kind": "local", "root": str(store.root)}
    raise ValueError(f"cannot describe {store.describe()} for a remote training run")


def store_from_spec(spec: dict[str, str]) -> ObjectStore:
    """The store ``store_spec`` described, opened on this machine."""
    if spec.get("author"):
        return AuthorStore(store_from_spec({k: v for k, v in spec.items() if k != "author"}), spec["author"])
    if spec.get("kind") == "local":
        return LocalFolderStore(spec["root"])
    if spec.get("kind") == "s3":
        # The bucket and prefix travel; the endpoint (TWIN_S3_ENDPOINT_URL) is this machine's own.
        return open_store(
            Settings(env="prod", s3_bucket=spec["bucket"], s3_prefix=spec.get("prefix", ""))
        )
    raise ValueError(f"unknown store kind {spec.get('kind')!r}")
