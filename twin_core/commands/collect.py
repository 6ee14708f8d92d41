"""``twin collect``: run the collection job in-process against the local instance; print counts."""

from __future__ import annotations

import os
from pathlib import Path

from twin_core.commands import CommandError

COUNTS = ("documents", "new", "changed", "unchanged", "failed")


def register(subparsers) -> None:
    parser = subparsers.add_parser("collect", help="Crawl every author's sources into the warehouse now.")
    parser.set_defaults(handler=run)


def run(args) -> int:
    # The same local instance the Makefile uses, created on first use.
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)

    import dagster as dg

    from twin_assets.definitions import defs

    job = defs.get_job_def("collection_job")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    rows = []
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        meta = {k: v.value for k, v in materialization.metadata.items()}
        rows.append((materialization.asset_key.to_user_string(), meta))
    width = max((len(name) for name, _ in rows), default=10)
    print(f"{'asset':<{width}}  " + "  ".join(f"{c:>9}" for c in COUNTS))
    for name, meta in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{meta.get(c, ''):>9}" for c in COUNTS))
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        reason = failure.step_failure_data.error.message.strip().splitlines()[0] if failure else "run failed"
        raise CommandError(reason)
    return 0
