"""The one entry point that the UI, the CLI and the tests load: ``defs``.

Each pipeline stage is a sub-package exposing its own ``defs``; they are merged here with the
author-partition and automation sensors and given the resource set that the settings choose (``TWIN_ENV``). ``defs``
is lazy (``@dg.definitions``): each process builds its definitions from its own settings when
it loads them, and ``build_defs(settings)`` does the same for a process with settings of its own.
Nothing here imports torch or transformers.
"""

from __future__ import annotations

import dagster as dg

from twin_assets import collection, datasets, features, training
from twin_assets.authors import author_partitions
from twin_assets.automation import automation_sensor
from twin_core.settings import Settings
from twin_resources.sets import resources_for

STAGES = [collection.defs, features.defs, datasets.defs, training.defs]


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        *STAGES,
        dg.Definitions(
            schedules=[collection.schedule(settings.collection_cron)],
            sensors=[author_partitions, automation_sensor],
            resources=resources_for(settings),
        ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_defs(Settings())
