"""The dataset store: ``datasets/<name>/<version>/{train,test}.jsonl`` + ``manifest.json``.

The version is the content hash of the rows, so identical rows are one version however often
they are rebuilt. The manifest is written last (a version without one is incomplete) and
``datasets/<name>/LATEST`` names the newest complete version.
"""

from __future__ import annotations

import json
from typing import Any

from twin_core.datasets.examples import rows_hash
from twin_core.documents import utc_now
from twin_core.object_store import ObjectNotFound, ObjectStore

INSTRUCTION_DATASET = "instruction"
PREFERENCE_DATASET = "preference"
SPLITS = ("train", "test")


class DatasetNotFound(LookupError):
    """No such dataset or version."""


class DatasetStore:
    def __init__(self, store: ObjectStore):
        self.store = store

    def _key(self, name: str, version: str, file: str) -> str:
        return f"datasets/{name}/{version}/{file}"

    def write(self, name: str, splits: dict[str, list[dict[str, Any]]], manifest: dict[str, Any]) -> tuple[str, bool]:
        """Store the rows of each split; returns ``(version, created)``.

        ``created`` is False when this exact content was already stored (nothing is rewritten).
        """
        rows = [row for split in SPLITS for row in splits.get(split, [])]
        version = rows_hash(rows)
        created = not self.store.exists(self._key(name, version, "manifest.json"))
        if created:
            for split in SPLITS:
                body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in splits.get(split, []))
                self.store.put_bytes(self._key(name, version, f"{split}.jsonl"), body.encode())
            full = {
                "name": name, "version": version, "created_at": utc_now(),
                "rows": len(rows), "splits": {s: len(splits.get(s, [])) for s in SPLITS},
                **manifest,
            }
            self.store.put_bytes(
                self._key(name, version, "manifest.json"),
                json.dumps(full, indent=2, sort_keys=True, ensure_ascii=False).encode(),
            )
        self.store.put_bytes(f"datasets/{name}/LATEST", version.encode())
        return version, created

    def latest(self, name: str) -> str | None:
        try:
            return self.store.get_bytes(f"datasets/{name}/LATEST").decode().strip() or None
        except ObjectNotFound:
            return None

    def resolve(self, name: str, version: str | None = None) -> str:
        version = version or self.latest(name)
        if not version or not self.store.exists(self._key(name, version, "manifest.json")):
            raise DatasetNotFound(f"dataset {name!r} has no version {version or '(none yet)'}")
        return version

    def manifest(self, name: str, version: str | None = None) -> dict[str, Any]:
        version = self.resolve(name, version)
        return json.loads(self.store.get_bytes(self._key(name, version, "manifest.json")))

    def read(self, name: str, split: str, version: str | None = None) -> list[dict[str, Any]]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        version = self.resolve(name, version)
        body = self.store.get_bytes(self._key(name, version, f"{split}.jsonl")).decode()
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def versions(self, name: str) -> list[str]:
        found = set()
        for key in self.store.list_keys(f"datasets/{name}/"):
            parts = key.split("/")
            if len(parts) == 4 and parts[3] == "manifest.json":
                found.add(parts[2])
        return sorted(found)
