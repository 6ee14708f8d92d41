"""``features_job``: the feature assets on demand (automation runs them on new documents)."""

from __future__ import annotations

import dagster as dg

from twin_assets.authors import AUTHORS
from twin_assets.features.assets import EMBEDDING_TAGS

features_job = dg.define_asset_job(
    "features_job",
    selection=dg.AssetSelection.groups("features"),
    description="Clean, chunk and embed one author's new or changed documents into Milvus.",
    partitions_def=AUTHORS,
    # Run-level tag: dagster.yaml's tag concurrency limit allows one embedding run at a time.
    tags=EMBEDDING_TAGS,
)
