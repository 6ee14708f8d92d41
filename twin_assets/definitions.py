"""The one entry point that the UI, the CLI and the tests load: ``defs``.

Each pipeline stage is a sub-package exposing its own ``defs``; they are merged here and given
the resource set chosen by ``TWIN_ENV``. Nothing here imports torch or transformers.
"""

from __future__ import annotations

import dagster as dg

from twin_assets import collection, datasets, features, training
from twin_resources.sets import resources_for
from twin_resources.settings import get_settings

STAGES = [collection.defs, features.defs, datasets.defs, training.defs]

defs = dg.Definitions.merge(
    *STAGES,
    dg.Definitions(resources=resources_for(get_settings())),
)
