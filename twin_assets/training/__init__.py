"""Training stage: ``base_model`` -> ``twin_model`` -> ``model_evaluation`` -> ``production_model``.

``continuous_training_sensor`` (running by default) requests ``continuous_training_job`` for
every new ``instruction_dataset`` version; a passing ``beats_baseline`` check lets the run move
the ``production`` alias. The same dataset version never trains twice. Env (prod):
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

DATASET_VERSION_TAG = "twin/dataset_version"

continuous_training_job = dg.define_asset_job(
    "continuous_training_job",
    selection=dg.AssetSelection.assets(base_model, preference_dataset, twin_model, model_evaluation, production_model),
    tags=TRAINING_TAGS,
    description="Train a twin on the newest datasets, evaluate it against its base and production, promote it if it passes.",
)


@dg.sensor(
    job=continuous_training_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="A new instruction_dataset version requests a training run; the same version never trains twice.",
)
def continuous_training_sensor(context: dg.SensorEvaluationContext):
    event = context.instance.get_latest_materialization_event(dg.AssetKey("instruction_dataset"))
    if event is None or event.asset_materialization is None:
        return dg.SkipReason("no instruction_dataset materialization yet")
    version = (event.asset_materialization.tags or {}).get("dagster/data_version")
    if not version:
        return dg.SkipReason("the latest instruction_dataset materialization carries no data version")
    if version == context.cursor:
        return dg.SkipReason(f"dataset version {version} already requested a training run")
    context.update_cursor(version)
    return dg.RunRequest(run_key=f"train-{version}", tags={DATASET_VERSION_TAG: version})


defs = dg.Definitions(
    assets=[base_model, twin_model, model_evaluation, production_model],
    asset_checks=[model_evaluation_beats_baseline],
    jobs=[continuous_training_job],
    sensors=[continuous_training_sensor],
)
