"""``twin collect``: run the collection job in-process against the local instance, one run per
author (``--author``: one of them); print counts.

Stdout gets a summary: one row of counts per asset, then each source that failed with its
reason. Dagster's step-by-step log is not echoed (it would bury the summary); it stays in the
instance, where ``twin dev`` (the Dagster UI) shows it under the printed run id.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from twin_cli.commands import CommandError

COUNTS = ("documents", "new", "changed", "unchanged", "failed")
# Nothing from Dagster's console logger: the summary names each failed source, and a failed run
# ends in a one-line error; the full log stays in the instance.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def register(subparsers) -> None:
    parser = subparsers.add_parser("collect", help="Crawl every author's sources into the warehouse now.")
    parser.add_argument("--author", help="Only this author (their slug, e.g. tamsin-vale); default: every author.")
    parser.set_defaults(handler=run)


def run(args) -> int:
    # The same local instance the Makefile uses, created on first use.
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)

    import dagster as dg

    from twin_assets.definitions import build_defs
    from twin_cli.authors_run import authors_to_run
    from twin_core.settings import Settings

    settings = Settings()
    job = build_defs(settings).resolve_job_def("collection_job")
    with dg.DagsterInstance.get() as instance:
        slugs = authors_to_run(instance, settings, args.author)
        failed = None
        for slug in slugs:
            if len(slugs) > 1:
                print(f"-- author {slug}")
            result = job.execute_in_process(run_config=QUIET, instance=instance, raise_on_error=False,
                                            partition_key=slug)
            failures = [
                entry.user_message for entry in instance.all_logs(result.run_id)
                if not entry.is_dagster_event and entry.level >= logging.WARNING
            ]
            _print_summary(result, failures)
            if not result.success and failed is None:
                failure = next((e for e in result.all_events if e.is_step_failure), None)
                failed = failure.step_failure_data.error.message.strip().splitlines()[0] if failure else "run failed"
    if failed:
        raise CommandError(failed)
    return 0


def _print_summary(result, failures: list[str]) -> None:
    rows = []
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        meta = {k: v.value for k, v in materialization.metadata.items()}
        rows.append((materialization.asset_key.to_user_string(), meta))
    width = max((len(name) for name, _ in rows), default=10)
    print(f"{'asset':<{width}}  " + "  ".join(f"{c:>9}" for c in COUNTS))
    for name, meta in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{meta.get(c, '-'):>9}" for c in COUNTS))
    if failures:
        print(f"\n{len(failures)} failed:")
        for message in failures:
            print(f"  {message}")
    print(f"\nrun {result.run_id} ({'success' if result.success else 'failed'}; full log: twin dev)")
