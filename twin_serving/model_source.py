"""Which model folder to serve: the registry's production twin, else the offline base model."""

from __future__ import annotations

from pathlib import Path

from twin_core.object_store import open_store
from twin_core.settings import Settings, get_settings


def registry_source(settings: Settings | None = None):
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


def base_source(settings: Settings | None = None):
    """A ``ModelSource`` for the registry's latest base model: the base that twins' adapters
    sit on (``twin serve-model --adapters-from-registry``)."""
    settings = settings or get_settings()
    store = open_store(settings)
    cache_dir = settings.home.resolve() / "cache" / "served-models"

    def source() -> tuple[str, str]:
        from twin_core.registry import BASE_MODEL, LATEST, ModelRegistry

        base = ModelRegistry(store, BASE_MODEL)
        version = base.resolve(LATEST)
        return str(base.materialize_version(version, cache_dir)), f"{BASE_MODEL}/{version}"

    return source


def adapter_name(slug: str) -> str:
    """The name an author's adapter is resident under on the model server (and asked for as the
    request's ``model``)."""
    return f"twin-{slug}"


def production_adapter_source(settings: Settings | None = None):
    """An ``AdapterSource``: every author's production twin as a LoRA adapter, resident as
    ``twin-<slug>``. When a promotion moves an author's alias, the next tick swaps that adapter
    and the base stays loaded. A production version trained without an adapter has none to
    serve (its merged export is served by the default mode)."""
    settings = settings or get_settings()
    store = open_store(settings)
    cache_dir = settings.home.resolve() / "cache" / "served-models"

    def source() -> dict[str, tuple[str, str]]:
        from twin_core.registry import TWIN_MODEL, production_twins, twin_registry

        adapters = {}
        for slug, version in production_twins(store).items():
            twin = twin_registry(store, slug)
            if twin.card(version).get("has_adapter"):
                folder = twin.materialize_version(version, cache_dir, part="adapter")
                adapters[adapter_name(slug)] = (str(folder), f"{TWIN_MODEL}/{slug}/{version}")
        return adapters

    return source
