"""The base model registered once: the tiny offline model built from the corpus, SmolLM2 from
its package, or any Hub id / folder copied as published. The same step in the Dagster run and
in a GPU Job (where a 70B download belongs)."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from twin_core.datasets.generators import OfflineGenerator
from twin_core.documents import Document
from twin_core.models import smollm2
from twin_core.models.pretrained import fetch_pretrained
from twin_core.models.tiny import build_tiny_model
from twin_core.object_store import ObjectStore
from twin_core.registry import BASE_MODEL, LATEST, ModelRegistry, folder_hash

TINY = "tiny"


def base_model_corpus(documents: Iterable[Document]) -> list[str]:
    """What the tiny model's tokenizer learns from: the author's texts and the instructions."""
    docs = sorted(documents, key=lambda d: d.id)
    texts = [t for d in docs for t in (d.title, d.content) if t.strip()]
    texts += [ex.instruction for ex in OfflineGenerator().generate(docs)]
    return texts


def register_base_model(
    store: ObjectStore, source: str, documents: Iterable[Document], work_dir: Path, spec: Any = None,
) -> tuple[str, dict[str, Any], bool]:
    """Register the configured base model; returns (version, card, created).

    ``source="smollm2"`` (the default) dequantizes SmolLM2-135M-Instruct from its package into a
    safetensors folder; any other source (a Hub id, ``id@revision``, or a local folder) is copied
    as published (``snapshot_download``: its own dtype, never loaded into memory). Either is
    registered once and found again by its source. ``source="tiny"`` builds the random offline
    test model from the corpus (version = content hash: the same corpus is the same version).
    """
    registry = ModelRegistry(store, BASE_MODEL)
    if source != TINY and (existing := registry.find(source=source)):
        registry.set_alias(LATEST, existing)
        return existing, registry.card(existing), False
    work_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=work_dir, prefix="base."))
    try:
        if source == TINY:
            corpus = base_model_corpus(documents)
            build_tiny_model(corpus, folder, spec)
            extra = {"corpus_texts": len(corpus)}
        elif source == smollm2.SOURCE:
            extra = {"provenance": smollm2.export_folder(folder)}
        else:
            extra = {"provenance": fetch_pretrained(source, folder)}
        config = json.loads((folder / "config.json").read_text())
        version = folder_hash(folder)[:12]
        created = version not in registry.versions()
        card = {
            "source": source, "architecture": config.get("model_type"),
            "vocab_size": config.get("vocab_size"), "parameters": _parameters(folder), **extra,
        }
        registry.register(folder, card, version=version)
        registry.set_alias(LATEST, version)
        return version, registry.card(version), created
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _parameters(folder: Path) -> int:
    from safetensors import safe_open

    total = 0
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), "pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                shape = handle.get_slice(key).get_shape()
                total += math.prod(shape)
    return total
