"""Keep the features in sync: a run of ``features_job`` whenever ``raw_documents`` changes."""

from __future__ import annotations

import json

import dagster as dg

from twin_assets.features.assets import EMBEDDING_TAGS

RAW_DOCUMENTS = dg.AssetKey("raw_documents")
CHUNK_EMBEDDINGS = dg.AssetKey("chunk_embeddings")
DATA_VERSION_TAG = "dagster/data_version"

features_job = dg.define_asset_job(
    "features_job",
    selection=dg.AssetSelection.groups("features"),
    description="Clean, chunk and embed new or changed documents into Milvus.",
    # Run-level tag: dagster.yaml's tag concurrency limit allows one embedding run at a time.
    tags=EMBEDDING_TAGS,
)


def _change_count(metadata: dict) -> int:
    total = 0
    for name in ("new", "changed", "removed"):
        value = metadata.get(name)
        total += int(getattr(value, "value", value) or 0)
    return total


@dg.sensor(
    name="features_sensor",
    job=features_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a features_job run when raw_documents materializes with a new data version.",
)
def features_sensor(context: dg.SensorEvaluationContext):
    """The cursor holds the last raw_documents data version acted on (and its event id)."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    records = context.instance.fetch_materializations(RAW_DOCUMENTS, limit=1).records
    if not records:
        return dg.SkipReason("raw_documents has not been materialized yet")
    record = records[0]
    if record.storage_id == cursor.get("storage_id"):
        return dg.SkipReason("no new raw_documents materialization")
    materialization = record.asset_materialization
    assert materialization is not None
    version = materialization.tags.get(DATA_VERSION_TAG) if materialization.tags else None
    changes = _change_count(materialization.metadata)
    context.update_cursor(json.dumps({"storage_id": record.storage_id, "data_version": version}))
    seen_before = cursor.get("data_version")
    if version is not None and seen_before is not None:
        changed = version != seen_before
    else:
        # First sighting (or no version): act on reported changes, or if features were never built.
        never_built = not context.instance.fetch_materializations(CHUNK_EMBEDDINGS, limit=1).records
        changed = changes > 0 or never_built
    if not changed:
        return dg.SkipReason(f"raw_documents unchanged (version {version})")
    return dg.RunRequest(run_key=f"raw_documents:{version}:{record.storage_id}", tags=EMBEDDING_TAGS)
