"""Datasets stage: ``instruction_dataset`` and ``preference_dataset`` (group ``datasets``).

Both are checked by a blocking pandera asset check and versioned by content hash under
``datasets/<name>/<version>/`` on the object store. The instruction
dataset is rebuilt when ``cleaned_documents`` gets a new data version (``twin_assets.automation``). Env (prod): ``TWIN_INSTRUCTION_LLM_URL``,
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


defs = dg.Definitions(
    assets=[instruction_dataset, preference_dataset],
    asset_checks=[instruction_dataset_schema, preference_dataset_schema],
    jobs=[dataset_job],
)
