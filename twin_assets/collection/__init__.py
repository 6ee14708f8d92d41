"""Collection stage: crawl each author's sources into the document warehouse.

Assets: ``linkedin_posts``, ``medium_articles``, ``substack_posts``, ``github_repositories``,
``custom_articles`` and their union ``raw_documents`` (checked by ``raw_documents_schema``); each
platform asset's ``every_source_answered`` check warns when a source could not be read.
``collection_job`` runs them; ``schedule(cron)`` builds ``collection_schedule``, which runs the
job daily (``TWIN_COLLECTION_CRON``).
"""

import dagster as dg

from twin_assets.authors import AUTHORS
from twin_assets.collection.assets import (
    PLATFORM_ASSETS,
    platform_assets,
    raw_documents,
    raw_documents_schema,
)
from twin_assets.collection.source_checks import source_checks

collection_job = dg.define_asset_job(
    "collection_job",
    selection=dg.AssetSelection.groups("collection"),
    description="Crawl one author's sources into the warehouse, then version their raw_documents.",
    partitions_def=AUTHORS,
    # Crawling waits on the network, not the CPU: one process, threads inside the crawlers.
    executor_def=dg.in_process_executor,
    # dagster.yaml's run queue admits one run with this tag at a time: a scheduled run and one
    # started from the page never crawl (and write the warehouse) side by side.
    tags={"twin/job": "collection"},
)


def schedule(cron: str) -> dg.ScheduleDefinition:
    """``collection_schedule``: the daily refresh (``TWIN_COLLECTION_CRON``, default 06:00), one
    collection run per author."""

    @dg.schedule(
        name="collection_schedule",
        job=collection_job,
        cron_schedule=cron,
        description="Refresh every author's documents (cron from TWIN_COLLECTION_CRON, default daily 06:00): one run per author.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        keys = context.instance.get_dynamic_partitions(AUTHORS.name)
        if not keys:
            return dg.SkipReason("no authors yet: add one to twin.yaml or on the web page")
        stamp = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "now"
        return [dg.RunRequest(run_key=f"{key}:{stamp}", partition_key=key) for key in keys]

    return _schedule


defs = dg.Definitions(
    assets=[*platform_assets, raw_documents],
    asset_checks=[raw_documents_schema, *source_checks(list(PLATFORM_ASSETS))],
    jobs=[collection_job],
)
