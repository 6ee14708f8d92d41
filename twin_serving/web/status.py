"""What the page's status panel shows: the production model and its evaluation (each number
explained, twin against its base), the model the model server really serves, the size of the
knowledge base, and the last collection. Each part fails alone, with its reason, so one system
being down never blanks the panel. The live up/down line comes from ``/ready`` (and the
launcher's ``ping`` for Dagster), not from here."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from twin_core.object_store import ObjectStore, open_store
from twin_core.registry import (
    BASE_MODEL,
    LATEST,
    PRODUCTION,
    TWIN_MODEL,
    ModelRegistry,
    production_twins,
    twin_registry,
)
from twin_core.settings import Settings
from twin_serving.web.dagster_launcher import CollectionLauncher, DagsterUnavailable

# How long the panel waits for each part. The parts are asked at once, so a system that hangs
# (a Milvus that never answers a connect, an embedding model still loading) costs the panel this
# much, and the other parts still show; the hung part's answer is there on the next refresh.
PART_DEADLINE_S = 3.0
PART_NAMES = {"model": "The model registry", "knowledge_base": "The knowledge base",
              "collection": "Dagster"}

# What each evaluation number means and which way is better ("higher", "lower", or None for a
# count), shown next to the twin's and its base model's values.
METRIC_GUIDE: dict[str, dict[str, str | None]] = {
    "bits_per_byte": {
        "label": "Bits per byte on held-out answers",
        "better": "lower",
        "meaning": "How surprised the model is by the author's own answers it never trained on, "
                   "per byte of text (comparable across tokenizers); the promotion gate's main "
                   "figure. Lower means it writes closer to their words.",
    },
    "style_margin": {
        "label": "Style margin against other authors",
        "better": "higher",
        "meaning": "How much closer the model's answers are to the author's held-out writing than "
                   "to other authors' texts; above 0 it sounds more like them than like others.",
    },
    "style_closer_share": {
        "label": "Answers closer to the author",
        "better": "higher",
        "meaning": "Share of the model's answers closer to the author's writing than to the other "
                   "authors' texts.",
    },
    "perplexity": {
        "label": "Perplexity on held-out answers",
        "better": "lower",
        "meaning": "How surprised the model is by the author's own answers it never trained on; "
                   "lower means it writes closer to their words.",
    },
    "style_similarity": {
        "label": "Style similarity",
        "better": "higher",
        "meaning": "Cosine similarity (up to 1) between the model's answers and the average of "
                   "the author's writing; higher sounds more like them.",
    },
    "judge_accuracy": {
        "label": "Judge: accuracy (1-3)",
        "better": "higher",
        "meaning": "An LLM judge's score for whether the answers are right.",
    },
    "judge_style": {
        "label": "Judge: style (1-3)",
        "better": "higher",
        "meaning": "An LLM judge's score for whether the answers sound like the author.",
    },
    "judged": {"label": "Answers judged", "better": None, "meaning": "How many answers the judge scored."},
    "examples": {"label": "Test examples", "better": None,
                 "meaning": "Held-out questions the numbers are measured on; more is more reliable."},
}


def explained_metrics(twin: dict[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per number: the twin's value, its base model's, and whether the twin is better."""
    rows = []
    for key in [*METRIC_GUIDE, *sorted(set(twin) - set(METRIC_GUIDE))]:
        if key not in twin:
            continue
        guide = METRIC_GUIDE.get(key, {"label": key, "better": None, "meaning": ""})
        value, baseline = twin[key], base.get(key)
        verdict = None
        if guide["better"] and baseline is not None and value != baseline:
            twin_better = value < baseline if guide["better"] == "lower" else value > baseline
            verdict = "better" if twin_better else "worse"
        rows.append({"key": key, **guide, "twin": value, "base": baseline, "verdict": verdict})
    return rows


def model_status(store: ObjectStore) -> dict[str, Any]:
    """The models in production in the registry: each author's twin (its ``production``
    version and evaluation; several authors: one entry each under ``authors``), else the base."""
    twins = production_twins(store)
    if twins:
        authors = [_twin_status(twin_registry(store, slug), slug) for slug in sorted(twins)]
        if len(authors) == 1:
            return authors[0]
        return {
            "version": ", ".join(a["version"] for a in authors),
            "note": f"{len(authors)} twins in production, one per author",
            "metrics": {}, "explained": [], "authors": authors,
        }
    base = ModelRegistry(store, BASE_MODEL)
    if base.get_alias(LATEST):
        card = base.card(LATEST)
        return {
            "version": f"{BASE_MODEL}/{card['version']}",
            "created_at": card.get("created_at"),
            "metrics": _numbers(card.get("metrics") or {}),
            "explained": explained_metrics(_numbers(card.get("metrics") or {}), {}),
            "note": "No trained twin in production yet: the base model answers.",
        }
    return {"version": None, "metrics": {}, "note": "No model registered yet: run the pipeline."}


def _twin_status(twin: ModelRegistry, slug: str) -> dict[str, Any]:
    card = twin.card(PRODUCTION)
    evaluation = card.get("evaluation") or {}
    metrics = _numbers(card.get("metrics") or {})
    base = _numbers((evaluation.get("baselines") or {}).get("base") or {})
    return {
        "author": slug,
        "version": f"{TWIN_MODEL}/{slug}/{card['version']}",
        "created_at": card.get("created_at"),
        "dataset_version": card.get("dataset_version"),
        "metrics": metrics,
        "explained": explained_metrics(metrics, base),
        "promotion": (evaluation.get("promotion") or {}).get("reasons") or [],
    }


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
        return {"error": _plain(error)}


def _plain(error: Exception) -> str:
    """A sentence for the panel; the exception's class name only where nothing better exists."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text[:300] or f"failed ({type(error).__name__})"


async def served_model(state: Any) -> dict[str, Any]:
    """The version the model server says it serves (its /info): the truth when the registry's
    production alias has moved but the server has not reloaded, or the server is down."""
    service = getattr(state, "service", None)
    if service is None:
        return {"error": "the API is still starting"}
    try:
        info = await service.model_info()
    except Exception:  # GenerationUnavailable, or a server answering something else
        return {"error": "the model server is not answering"}
    return {"version": service.model_version(info) or "unknown"}


def collect_status(state: Any, launcher: CollectionLauncher) -> dict[str, Any]:
    store = getattr(state, "store", None)
    settings = getattr(state, "settings", None)
    settings = settings if isinstance(settings, Settings) else Settings()
    parts: dict[str, Callable[[], dict[str, Any]]] = {
        "model": lambda: model_status(store or open_store(settings)),
        "knowledge_base": lambda: knowledge_base_status(state),
        "collection": lambda: {"last_run_at": launcher.last_collection()},
    }
    pool = ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="status")
    try:
        futures = {name: pool.submit(_guarded, part) for name, part in parts.items()}
        wait(futures.values(), timeout=PART_DEADLINE_S)
    finally:
        pool.shutdown(wait=False)  # a hung part finishes (or times out) on its own
    status: dict[str, Any] = {"metric_guide": METRIC_GUIDE}
    for name, future in futures.items():
        status[name] = future.result() if future.done() else {"error": (
            f"{PART_NAMES[name]} did not answer within {PART_DEADLINE_S:.0f} s (still starting, or "
            "not reachable): the panel asks again on its next refresh.")}
    return status
