"""Many twins in Dagster: what 1,000 author partitions cost the sensors and status queries.

Run: ``python -m benchmarks partitions`` (``--authors 1000``, ``--repeats 5``).

On one SQLite-backed Dagster instance (the local default) in a temporary folder, with the
project's real definitions, against the same figures for a single author in the same run:

1. **Partition sync**: the ``author_partitions`` sensor's tick (profiles read, partition set
   compared) with every author already present, and adding them all at once.
2. **Automation tick**: one ``evaluate_automation_conditions`` over every asset (the
   ``twin_automation`` sensor's work) when nothing changed, then when one author's documents
   changed (that author's features and dataset are requested, no one else's).
3. **Status queries**: which authors' ``raw_documents`` are materialized, and the latest
   materialization of one author's partition (what the page and the source checks ask).

Run-less materializations stand in for collected authors: the sensors read only the event log.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _timed(call, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure(authors: int, repeats: int) -> dict[str, float]:
    import dagster as dg
    import yaml

    from twin_assets.authors import AUTHORS, author_partitions
    from twin_assets.definitions import build_defs
    from twin_core.settings import Settings
    from twin_resources.profiles import ProfilesResource

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="twin-partitions-") as tmp:
        root = Path(tmp)
        profiles = root / "twin.yaml"
        names = [f"Author {i:05d}" for i in range(authors)]
        profiles.write_text(yaml.safe_dump({"authors": [{"name": n} for n in names]}))
        slugs = [f"author-{i:05d}" for i in range(authors)]
        os.environ["DAGSTER_HOME"] = str(root / "dagster")
        (root / "dagster").mkdir()
        (root / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        defs = build_defs(Settings(home=root / "home", profiles=profiles))
        with dg.DagsterInstance.get() as instance:
            started = time.perf_counter()
            instance.add_dynamic_partitions(AUTHORS.name, slugs)
            figures["add all partitions (s)"] = time.perf_counter() - started

            def sensor_tick():
                context = dg.build_sensor_context(instance=instance, resources={"profiles": ProfilesResource(path=str(profiles))})
                result = author_partitions(context)
                assert not result.dynamic_partitions_requests, "the partitions should match the profiles"

            figures["author_partitions tick (s)"] = _timed(sensor_tick, repeats)

            cursor = None

            def automation_tick():
                nonlocal cursor
                result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
                cursor = result.cursor
                return result

            automation_tick()  # before anything is collected: nothing to do
            for slug in slugs:  # then every author collected once
                instance.report_runless_asset_event(dg.AssetMaterialization(
                    "raw_documents", partition=slug, tags={"dagster/data_version": f"{slug}-1"}))

            started = time.perf_counter()
            first = automation_tick()  # requests every author's chain
            figures["first automation tick, every author new (s)"] = time.perf_counter() - started
            figures["automation tick, nothing changed (s)"] = _timed(automation_tick, repeats)
            instance.report_runless_asset_event(dg.AssetMaterialization(
                "raw_documents", partition=slugs[0], tags={"dagster/data_version": "changed"}))
            started = time.perf_counter()
            changed = automation_tick()
            figures["automation tick, one author changed (s)"] = time.perf_counter() - started
            requested = changed.get_requested_partitions(dg.AssetKey("cleaned_documents"))
            assert set(requested) == {slugs[0]}, requested
            figures["partitions requested by that first tick"] = float(first.total_requested)

            raw = dg.AssetKey("raw_documents")
            figures["materialized partitions of raw_documents (s)"] = _timed(
                lambda: instance.get_materialized_partitions(raw), repeats)
            figures["latest materialization of one author (s)"] = _timed(
                lambda: instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=raw, asset_partitions=[slugs[-1]]), limit=1), repeats)
    return figures


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=".*include_sources.*")  # Dagster's own beta API
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    one = measure(1, args.repeats)
    many = measure(args.authors, args.repeats)
    print(f"{'figure':<48} {'1 author':>10} {f'{args.authors} authors':>14} {'ratio':>8}")
    for name in many:
        ratio = many[name] / one[name] if one[name] else float("nan")
        print(f"{name:<48} {one[name]:>10.3f} {many[name]:>14.3f} {ratio:>7.1f}x")


if __name__ == "__main__":
    main()
