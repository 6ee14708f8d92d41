"""When assets re-materialize, said declaratively (Dagster's Declarative Automation).

One sensor evaluates every asset's ``automation_condition``; there are no hand-written sensors.
Compute limits are concurrency pools (``pool=`` on the assets, limits in ``dagster.yaml``).
"""

from __future__ import annotations

import dagster as dg

AC = dg.AutomationCondition

# Pools: one embedding and one training step at a time (``concurrency.pools`` in dagster.yaml).
EMBEDDING_POOL = "embedding"
TRAINING_POOL = "training"


def on_new_data() -> dg.AutomationCondition:
    """Like ``eager()``, but a dependency counts as updated only when its data version changed
    (or it is requested on the same tick): a collection or dataset build that found nothing new
    re-materializes with the same version and starts nothing downstream."""
    # A dependency's change made by a run that also built this asset is already handled.
    changed = AC.any_deps_match(
        (AC.data_version_changed() & ~AC.executed_with_root_target()) | AC.will_be_requested()
    )
    return (
        AC.in_latest_time_window()
        & (AC.newly_missing() | changed).since_last_handled()
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("on_new_data")


def once_when_missing() -> dg.AutomationCondition:
    """Materialize an asset that has never been built (its inputs present), once: not while a
    run is building it, and not again after a failed run (that needs a person)."""
    return (
        AC.missing() & ~AC.any_deps_missing() & ~AC.newly_requested() & ~AC.in_progress()
        & ~AC.execution_failed()
    ).with_label("once_when_missing")


automation_sensor = dg.AutomationConditionSensorDefinition(
    "twin_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=(
        "New documents re-run features and the instruction dataset; a new dataset version trains, "
        "evaluates and (if the gate passes) promotes a twin; the base model is registered once."
    ),
)
