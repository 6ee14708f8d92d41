"""Object storage behind one small interface: a local folder on a laptop, S3 in production.

The warehouse, dataset store and model registry only ever call these methods, so the code path
is the same in both places. Keys are '/'-separated relative paths.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from twin_core.settings import Settings


class ObjectNotFound(KeyError):
    """The key does not exist in the store."""


class ObjectStore(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list_keys(self, prefix: str = "") -> Iterator[str]: ...
    def delete(self, key: str) -> None: ...
    def describe(self) -> str: ...


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key


class LocalFolderStore:
    """Files under a root folder; writes go to a temp file then ``os.replace`` (atomic)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as error:
            raise ObjectNotFound(key) from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        folder = base if base.is_dir() else base.parent
        if not folder.exists():
            return
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def describe(self) -> str:
        return f"file://{self.root}"


class S3Store:
    """An S3 bucket (or any S3-compatible store) under an optional key prefix.

    A single PUT is atomic in S3: readers see the old object or the new one, never half.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey as error:
            raise ObjectNotFound(key) from error
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as error:  # botocore raises ClientError with a 404 code
            if getattr(error, "response", {}).get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        full = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(f"{self.prefix}/") if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def upload_folder(store: ObjectStore, folder: str | os.PathLike[str], prefix: str) -> list[str]:
    """Copy every file under ``folder`` to ``prefix/``; returns the keys written."""
    root = Path(folder)
    keys = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            key = f"{prefix.rstrip('/')}/{path.relative_to(root).as_posix()}"
            store.put_bytes(key, path.read_bytes())
            keys.append(key)
    return keys


def download_folder(store: ObjectStore, prefix: str, folder: str | os.PathLike[str]) -> Path:
    """Copy every object under ``prefix/`` into ``folder``; returns the folder."""
    root = Path(folder)
    prefix = prefix.rstrip("/") + "/"
    found = False
    for key in store.list_keys(prefix):
        target = root / key[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))
        found = True
    if not found:
        raise ObjectNotFound(prefix)
    return root


def open_store(settings: Settings) -> ObjectStore:
    """The project's object store as ``settings`` describe it:
    the local folder under ``TWIN_HOME``, or the S3 bucket (credentials from the environment)."""
    if settings.env == "local":
        return LocalFolderStore(settings.store_root)
    import boto3

    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None)
    return S3Store(client, settings.s3_bucket, settings.s3_prefix)
