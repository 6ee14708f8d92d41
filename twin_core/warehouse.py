"""The document warehouse: one JSON record per document on object storage.

Layout: ``<prefix>/<platform>/<id>.json``: ``documents/`` holds raw documents as collected,
``cleaned/`` the cleaned versions the feature and dataset pipelines read. A write replaces the previous version of the same
document atomically, so re-runs never duplicate and readers never see half a record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Literal

from twin_core.documents import Document
from twin_core.object_store import ObjectNotFound, ObjectStore

Change = Literal["new", "changed", "unchanged"]
RAW_PREFIX = "documents"
CLEANED_PREFIX = "cleaned"


class DocumentWarehouse:
    def __init__(self, store: ObjectStore, prefix: str = RAW_PREFIX):
        self.store = store
        self.prefix = prefix

    def key(self, document_id: str, platform: str) -> str:
        return f"{self.prefix}/{platform}/{document_id}.json"

    def get(self, document_id: str, platform: str) -> Document | None:
        try:
            raw = self.store.get_bytes(self.key(document_id, platform))
        except ObjectNotFound:
            return None
        return Document.from_dict(json.loads(raw))

    def upsert(self, document: Document) -> Change:
        """Store ``document`` unless an identical version is already there.

        An unchanged document keeps its stored record (and its first ``fetched_at``), so a
        refresh that finds nothing new writes nothing.
        """
        previous = self.get(document.id, document.platform)
        if previous is not None and previous.content_hash == document.content_hash:
            if previous.url == document.url:
                return "unchanged"
            # Same post at a new address (a publication moved domain): update the record in place.
            self.store.put_bytes(self.key(document.id, document.platform), replace(previous, url=document.url).to_json().encode())
            return "changed"
        if previous is not None and previous.published_at and not document.published_at:
            document = replace(document, published_at=previous.published_at)
        self.store.put_bytes(self.key(document.id, document.platform), document.to_json().encode())
        return "new" if previous is None else "changed"

    def delete(self, document_id: str, platform: str) -> None:
        self.store.delete(self.key(document_id, platform))

    def keys(self, platform: str | None = None) -> Iterator[str]:
        prefix = f"{self.prefix}/{platform}/" if platform else f"{self.prefix}/"
        return (key for key in self.store.list_keys(prefix) if key.endswith(".json"))

    def documents(self, platform: str | None = None) -> Iterator[Document]:
        for key in self.keys(platform):
            yield Document.from_dict(json.loads(self.store.get_bytes(key)))


def record_version(document: Document) -> str:
    """What downstream stages must follow: the content and the address (a post whose
    publication moved domain keeps its content and id, and its chunks must link to the new
    address)."""
    return hashlib.sha256(f"{document.content_hash}\n{document.url}".encode()).hexdigest()[:32]
