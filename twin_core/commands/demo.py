"""``twin demo``: run the whole pipeline on the shipped sample data, in-process."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="Run the pipeline on the shipped sample data.")
    parser.set_defaults(handler=run)


def run(args) -> int:
    import dagster as dg

    from twin_assets.definitions import defs

    job = defs.get_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=dg.DagsterInstance.get())
    return 0 if result.success else 1
