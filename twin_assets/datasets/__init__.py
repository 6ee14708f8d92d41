"""Datasets stage: ``instruction_dataset`` and ``preference_dataset`` (group ``datasets``).

Both are checked by a blocking pandera asset check and versioned by content hash under
``datasets/<name>/<version>/`` on the object store. ``dataset_sensor`` rebuilds the instruction
dataset when ``cleaned_documents`` is materialized. Env (prod): ``TWIN_INSTRUCTION_LLM_URL``,
``TWIN_INSTRUCTION_LLM_MODEL``, ``TWIN_INSTRUCTION_LLM_API_KEY`` for the ``llm`` generator.
"""

import dagster as dg

from twin_assets.datasets.assets import (
    instruction_dataset,
    instruction_dataset_schema,
    preference_dataset,
    preference_dataset_schema,
)

dataset_job = dg.define_asset_job(
    "dataset_job",
    selection=dg.AssetSelection.assets(instruction_dataset),
    description="Rebuild the instruction dataset from the cleaned documents.",
)


@dg.asset_sensor(
    asset_key=dg.AssetKey("cleaned_documents"),
    job=dataset_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="New cleaned documents -> rebuild instruction_dataset (an unchanged corpus gives the same version, so nothing retrains).",
)
def dataset_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    yield dg.RunRequest(run_key=f"dataset-{asset_event.run_id or 'runless'}-{asset_event.timestamp}")


defs = dg.Definitions(
    assets=[instruction_dataset, preference_dataset],
    asset_checks=[instruction_dataset_schema, preference_dataset_schema],
    jobs=[dataset_job],
    sensors=[dataset_sensor],
)
