"""Instructions the LLM wrote, kept on the object store by (extract hash, prompt, model).

At temperature 0.7 the same extract gets new instructions on every call, so without a cache an
unchanged corpus would give a new dataset version and start a new training run. With it, only
new or edited extracts reach the endpoint and the rest of the dataset stays byte-identical.
Entries are immutable: a key never changes meaning, so entries need no invalidation.
"""

from __future__ import annotations

import hashlib
import json

from twin_core.documents import utc_now
from twin_core.object_store import ObjectNotFound, ObjectStore

CACHE_PREFIX = "datasets/cache/instruction_llm"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def cache_key(extract: str, prompt: str, model: str) -> str:
    """One key per (extract, prompt, model): a changed prompt or model asks again."""
    parts = {"extract": _sha256(extract), "prompt": _sha256(prompt), "model": model}
    return _sha256(json.dumps(parts, sort_keys=True))


class ResponseCache:
    def __init__(self, store: ObjectStore, prefix: str = CACHE_PREFIX):
        self.store = store
        self.prefix = prefix.rstrip("/")

    def _object(self, key: str) -> str:
        return f"{self.prefix}/{key[:2]}/{key}.json"

    def get(self, key: str) -> list[str] | None:
        """The cached instructions, or None (missing, or unreadable: asked again and rewritten)."""
        try:
            entry = json.loads(self.store.get_bytes(self._object(key)))
        except (ObjectNotFound, ValueError):
            return None
        instructions = entry.get("instructions") if isinstance(entry, dict) else None
        if not isinstance(instructions, list) or not all(isinstance(i, str) for i in instructions):
            return None
        return instructions

    def put(self, key: str, instructions: list[str], model: str) -> None:
        entry = {"instructions": instructions, "model": model, "created_at": utc_now()}
        self.store.put_bytes(self._object(key), json.dumps(entry, ensure_ascii=False).encode())
