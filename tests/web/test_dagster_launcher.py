"""The collection launcher's answers that do not need a run: errors and counts.

Launching and following a real run is covered end to end by the browser test.
"""

from __future__ import annotations

import pytest

from tests.web.conftest import closed_port
from twin_serving.web.dagster_launcher import (
    CollectionLauncher,
    DagsterUnavailable,
    collection_counts,
)


def test_unknown_job_names_the_setting_to_fix(dagster_webserver):
    launcher = CollectionLauncher(dagster_webserver.url, "llm_twin", "__repository__", "no_such_job")
    with pytest.raises(DagsterUnavailable, match="no job 'no_such_job' in code location 'llm_twin'"):
        launcher.launch(["tamsin-vale"])
    with pytest.raises(LookupError):
        launcher.progress("00000000-0000-0000-0000-000000000000")


def test_unreachable_dagster_says_how_to_start_it():
    url = f"http://127.0.0.1:{closed_port()}"
    launcher = CollectionLauncher(url, "llm_twin", "__repository__", "collection_job")
    with pytest.raises(DagsterUnavailable, match=f"not reachable at {url}. Start it with `make dev`"):
        launcher.launch(["tamsin-vale"])
    with pytest.raises(DagsterUnavailable, match="not reachable"):
        launcher.last_collection()


def _materialization(asset: str, **counts: int) -> dict:
    return {
        "assetKey": {"path": [asset]},
        "metadataEntries": [{"label": k, "intValue": v} for k, v in counts.items()]
        + [{"label": "preview"}],
    }


def test_counts_sum_sources_until_the_summary_lands():
    sources = [_materialization("medium_articles", new=2, failed=1),
               _materialization("linkedin_posts", new=3, changed=1)]
    assert collection_counts(sources) == {"new": 5, "changed": 1, "failed": 1}
    summary = _materialization("raw_documents", new=4, changed=0, documents=9)
    assert collection_counts([*sources, summary]) == {"new": 4, "changed": 0, "failed": 1, "documents": 9}
    with pytest.raises(ValueError):
        CollectionLauncher("localhost:3000", "llm_twin", "__repository__", "collection_job")


def _partitions(url: str) -> list[str]:
    import httpx

    query = """{ partitionSetsOrError(repositorySelector: {repositoryLocationName: "llm_twin", repositoryName: "__repository__"}, pipelineName: "collection_job") {
        ... on PartitionSets { results { partitionsOrError { ... on Partitions { results { name } } } } } } }"""
    sets = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()["data"]["partitionSetsOrError"]["results"]
    return [p["name"] for s in sets for p in s["partitionsOrError"]["results"]]


def test_runs_set_off_after_a_collection_are_listed_with_state_and_link(dagster_webserver):
    import time

    collection = CollectionLauncher(dagster_webserver.url, "llm_twin", "__repository__", "collection_job")
    since = time.time() - 1
    # Start the dataset job as its sensor would after a collection, and let it end.
    dataset = CollectionLauncher(dagster_webserver.url, "llm_twin", "__repository__", "dataset_job")
    run_id = dataset.launch(["tamsin-vale"], {"twin/test": "follow-on"})
    assert "tamsin-vale" in _partitions(dagster_webserver.url)  # the page added the author's partition
    deadline = time.monotonic() + 240
    while not dataset.progress(run_id).finished:
        assert time.monotonic() < deadline, "the dataset run did not end"
        time.sleep(1)
    listed = {run.job: run for run in collection.follow_on(since)}
    assert list(listed) == ["features_job", "dataset_job", "continuous_training_job"]
    mine = listed["dataset_job"]
    assert mine.run_id == run_id and mine.status == dataset.progress(run_id).status
    assert mine.url == f"{dagster_webserver.url}/runs/{run_id}"
    assert listed["continuous_training_job"].status == "NOT_LAUNCHED"
    assert listed["continuous_training_job"].gate is None
