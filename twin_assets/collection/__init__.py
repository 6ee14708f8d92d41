"""Collection stage: crawl each author's sources into the document warehouse.

Assets: ``linkedin_posts``, ``medium_articles``, ``substack_posts``, ``github_repositories``,
``custom_articles`` and their union ``raw_documents`` (checked by ``raw_documents_schema``).
``collection_job`` runs them; ``collection_schedule`` runs the job daily (``TWIN_COLLECTION_CRON``).
"""

import dagster as dg

from twin_assets.collection.assets import platform_assets, raw_documents, raw_documents_schema
from twin_resources.settings import get_settings

collection_job = dg.define_asset_job(
    "collection_job",
    selection=dg.AssetSelection.groups("collection"),
    description="Crawl every author's sources into the warehouse, then version raw_documents.",
    # Crawling waits on the network, not the CPU: one process, threads inside the crawlers.
    executor_def=dg.in_process_executor,
)

collection_schedule = dg.ScheduleDefinition(
    name="collection_schedule",
    job=collection_job,
    cron_schedule=get_settings().collection_cron,
    description="Refresh the document warehouse (cron from TWIN_COLLECTION_CRON, default daily 06:00).",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(
    assets=[*platform_assets, raw_documents],
    asset_checks=[raw_documents_schema],
    jobs=[collection_job],
    schedules=[collection_schedule],
)
