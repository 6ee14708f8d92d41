"""What the page's status panel shows: the production model and its evaluation, the size of the
knowledge base, and the last collection. Each part fails alone, with its reason, so one system
being down never blanks the panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twin_core.object_store import LocalFolderStore, ObjectStore, S3Store
from twin_core.registry import BASE_MODEL, LATEST, PRODUCTION, TWIN_MODEL, ModelRegistry
from twin_resources.settings import TwinSettings
from twin_serving.web.dagster_launcher import CollectionLauncher, DagsterUnavailable


def open_store(settings: TwinSettings) -> ObjectStore:
    if settings.env == "local":
        return LocalFolderStore(settings.store_root)
    import boto3

    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None)
    return S3Store(client, settings.s3_bucket, settings.s3_prefix)


def model_status(store: ObjectStore) -> dict[str, Any]:
    """The served model: the twin's ``production`` version, else the base model."""
    twin = ModelRegistry(store, TWIN_MODEL)
    if twin.get_alias(PRODUCTION):
        card = twin.card(PRODUCTION)
        return {
            "version": f"{TWIN_MODEL}/{card['version']}",
            "created_at": card.get("created_at"),
            "dataset_version": card.get("dataset_version"),
            "metrics": _numbers(card.get("metrics") or {}),
        }
    base = ModelRegistry(store, BASE_MODEL)
    if base.get_alias(LATEST):
        card = base.card(LATEST)
        return {
            "version": f"{BASE_MODEL}/{card['version']}",
            "created_at": card.get("created_at"),
            "metrics": _numbers(card.get("metrics") or {}),
            "note": "No trained twin in production yet: the base model answers.",
        }
    return {"version": None, "metrics": {}, "note": "No model registered yet: run the pipeline."}


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """Flat numeric metrics only: the card may hold nested reports the panel cannot show."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def knowledge_base_status(state: Any) -> dict[str, Any]:
    from twin_serving.web.knowledge_base import knowledge_base_size

    return knowledge_base_size(state)


def _guarded(part: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return part()
    except DagsterUnavailable as error:
        return {"error": str(error)}
    except Exception as error:  # one failing system must not hide the others' status
        return {"error": f"{type(error).__name__}: {error}"}


def collect_status(state: Any, launcher: CollectionLauncher) -> dict[str, Any]:
    store = getattr(state, "store", None)
    return {
        "model": _guarded(lambda: model_status(store or open_store(TwinSettings()))),
        "knowledge_base": _guarded(lambda: knowledge_base_status(state)),
        "collection": _guarded(lambda: {"last_run_at": launcher.last_collection()}),
    }
