"""A warning check on each collection asset: did every configured source answer?

A crawl that loses one source still stores what the others gave, so the materialization
succeeds; without this check the run would read "Success" while a whole platform was missing.
The check reads the ``failed_sources`` metadata of the materialization it follows, so it adds no
crawling of its own, and it warns (never blocks): the rest of the pipeline may go on with the
documents that did arrive.
"""

import dagster as dg

from twin_assets.metadata import md_table

FAILED_SOURCES = "failed_sources"


def _failures(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey) -> list[dict] | None:
    """The failed sources of the author's latest materialization (None: never materialized)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get(FAILED_SOURCES)
    data = getattr(value, "data", value)
    return list(data) if isinstance(data, list) else []


def sources_answered_check(asset_name: str) -> dg.AssetChecksDefinition:
    asset_key = dg.AssetKey(asset_name)

    @dg.asset_check(
        asset=asset_key,
        name="every_source_answered",
       
        description=(
            "Warns when some configured source could not be read (DNS, refused, 404, bad export); "
            "the metadata lists each source with its reason."
        ),
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        failures = _failures(context, asset_key)
        if failures is None:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description="No materialization to check yet.",
            )
        return dg.AssetCheckResult(
            passed=not failures,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{len(failures)} source(s) could not be read." if failures else "Every source answered."
            ),
            metadata={
                "failed": len(failures),
                FAILED_SOURCES: dg.MetadataValue.json(failures),
                "failures": dg.MetadataValue.md(
                    md_table(["source", "reason"], [[f.get("source"), f.get("reason")] for f in failures])
                    if failures else "none"
                ),
            },
        )

    return _check


def source_checks(asset_names: list[str]) -> list[dg.AssetChecksDefinition]:
    return [sources_answered_check(name) for name in asset_names]
