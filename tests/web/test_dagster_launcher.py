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
        launcher.launch()
    with pytest.raises(LookupError):
        launcher.progress("00000000-0000-0000-0000-000000000000")


def test_unreachable_dagster_says_how_to_start_it():
    url = f"http://127.0.0.1:{closed_port()}"
    launcher = CollectionLauncher(url, "llm_twin", "__repository__", "collection_job")
    with pytest.raises(DagsterUnavailable, match=f"not reachable at {url}. Start it with `make dev`"):
        launcher.launch()
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
