"""Authors as Dagster partitions: one dynamic partition per profile, named by the author's slug.

Every asset from collection to ``production_model`` is partitioned by author, so each author's
documents, features, datasets, twin and production alias are materialized (and re-materialized
by automation) on their own. The partition set follows the profiles: the ``author_partitions``
sensor adds an author who appears in ``twin.yaml`` (or the web page) and removes one who is
gone; a removed author's data stays in the store until ``twin authors forget`` deletes it.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from twin_core.authors import AuthorNotFound, AuthorStore, find_author, profile_slugs
from twin_core.profiles import Author, ProfileError, Profiles
from twin_resources.object_store import ObjectStoreResource
from twin_resources.profiles import ProfilesResource

AUTHORS = dg.DynamicPartitionsDefinition(name="authors")


def partition_changes(instance: dg.DagsterInstance, profiles: Profiles) -> tuple[list[str], list[str]]:
    """(authors to add, authors to remove) to make the partition set match the profiles."""
    wanted = profile_slugs(profiles)
    present = set(instance.get_dynamic_partitions(AUTHORS.name))
    return [s for s in wanted if s not in present], sorted(present - set(wanted))


def sync_author_partitions(instance: dg.DagsterInstance, profiles: Profiles) -> tuple[list[str], list[str]]:
    """Apply ``partition_changes`` now (the CLI and the web page, before they start a run)."""
    added, removed = partition_changes(instance, profiles)
    if added:
        instance.add_dynamic_partitions(AUTHORS.name, added)
    for slug in removed:
        instance.delete_dynamic_partition(AUTHORS.name, slug)
    return added, removed


@dg.sensor(
    name="author_partitions",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps the authors partition set equal to the profiles: adds new authors, removes "
                "deleted ones (their data is kept until `twin authors forget`).",
)
def author_partitions(context: dg.SensorEvaluationContext, profiles: ProfilesResource) -> dg.SensorResult:
    try:
        loaded = profiles.load()
    except ProfileError as error:
        return dg.SensorResult(skip_reason=f"profile configuration error: {error}")
    added, removed = partition_changes(context.instance, loaded)
    if not added and not removed:
        return dg.SensorResult(skip_reason="the authors partitions match the profiles")
    requests: list = []
    if added:
        requests.append(AUTHORS.build_add_request(added))
    if removed:
        requests.append(AUTHORS.build_delete_request(removed))
    return dg.SensorResult(dynamic_partitions_requests=requests)


def author_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
              profiles: ProfilesResource) -> Author:
    """The profile of the run's partition; a clear failure when it is not in the profiles."""
    return author_with_base_dir(context, profiles)[0]


def author_with_base_dir(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
                         profiles: ProfilesResource) -> tuple[Author, Path]:
    """The run's author and the folder their relative export paths resolve against, from one
    read of the profiles."""
    try:
        loaded = profiles.load()
    except ProfileError as error:
        raise dg.Failure(description=f"profile configuration error: {error}") from None
    try:
        return find_author(loaded, _partition_key(context)), loaded.base_dir
    except AuthorNotFound as error:
        raise dg.Failure(description=str(error)) from None


def author_store(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
                 object_store: ObjectStoreResource) -> AuthorStore:
    """The run's author's slice of the object store (``twin_core.authors``)."""
    return AuthorStore(object_store.open(), _partition_key(context))


def _partition_key(context) -> str:
    key = getattr(context, "partition_key", None) if getattr(context, "has_partition_key", True) else None
    if not key:
        raise dg.Failure(description="this asset is per author: run it for one author (a partition of 'authors').")
    return key
