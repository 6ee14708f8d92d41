"""Training stage: ``base_model`` -> ``twin_model`` -> ``model_evaluation`` -> ``production_model``.

A new ``instruction_dataset`` version trains, evaluates and promotes a twin
(``twin_assets.automation``); a failing blocking ``beats_baseline`` check stops the promotion.
The same dataset version never trains twice. ``continuous_training_job`` runs the same on demand. Env (prod):
``TWIN_TRAINER_LAUNCHER``, ``TWIN_TRAINER_NPROC``, ``TWIN_TRAINER_DEEPSPEED``,
``TWIN_TRAINING_NAMESPACE``, ``TWIN_TGI_DEPLOYMENT``.
"""

import dagster as dg

from twin_assets.datasets.assets import preference_dataset
from twin_assets.training.assets import (
    TRAINING_TAGS,
    base_model,
    model_evaluation,
    model_evaluation_beats_baseline,
    production_model,
    twin_model,
)

continuous_training_job = dg.define_asset_job(
    "continuous_training_job",
    selection=dg.AssetSelection.assets(base_model, preference_dataset, twin_model, model_evaluation, production_model),
    tags=TRAINING_TAGS,
    description="Train a twin on the newest datasets, evaluate it against its base and production, promote it if it passes.",
)


defs = dg.Definitions(
    assets=[base_model, twin_model, model_evaluation, production_model],
    asset_checks=[model_evaluation_beats_baseline],
    jobs=[continuous_training_job],
)
