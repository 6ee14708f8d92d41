"""The ``every_source_answered`` checks under a real ``materialize``: a source that cannot be read
leaves the run successful but the materialization lists it, and the check warns with its reason."""

from pathlib import Path

import dagster as dg
import yaml

from tests.fixtures.authors import materialize_author
from tests.fixtures.loopback import Reply
from tests.web.conftest import closed_port
from twin_assets.collection import collection_job
from twin_assets.collection.assets import PLATFORM_ASSETS, platform_assets
from twin_assets.collection.source_checks import source_checks
from twin_assets.definitions import defs as load_defs
from twin_resources.http import CrawlerHttpResource
from twin_resources.object_store import LocalObjectStoreResource
from twin_resources.profiles import ProfilesResource

PAGES = Path(__file__).parent / "pages"


def _resources(tmp_path: Path, articles: list[str]) -> dict:
    profile = tmp_path / "twin.yaml"
    profile.write_text(yaml.safe_dump({"authors": [{"name": "Tamsin Vale", "web": {"articles": articles}}]}))
    return {
        "object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
        "profiles": ProfilesResource(path=str(profile)),
        "http": CrawlerHttpResource(timeout_s=2, max_retries=0, per_host_rate=0),
    }


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.asset_key.path[-1]: c for c in result.get_asset_check_evaluations()}


def test_a_source_that_fails_makes_the_check_warn_with_its_reason(tmp_path, loopback):
    good = loopback.route("/good", Reply(body=(PAGES / "web_jsonld.html").read_text()))
    refused = f"http://127.0.0.1:{closed_port()}/post"
    missing = loopback.url("/gone")
    resources = _resources(tmp_path, [good, refused, missing])
    result = materialize_author([*platform_assets, *source_checks(list(PLATFORM_ASSETS))], resources=resources)
    assert result.success  # the documents that arrived are stored: the run goes on

    (event,) = result.asset_materializations_for_node("custom_articles")
    failed = event.metadata["failed_sources"].value
    assert {f["source"] for f in failed} == {refused, missing}
    assert all(f["reason"] for f in failed)

    checks = _checks(result)
    web = checks["custom_articles"]
    assert not web.passed and web.severity == dg.AssetCheckSeverity.WARN
    assert web.metadata["failed"].value == 2
    assert web.metadata["failed_sources"].value == failed
    # Platforms with nothing configured read nothing and fail nothing.
    assert checks["medium_articles"].passed and checks["github_repositories"].passed


def test_the_collection_job_runs_the_checks():
    job = load_defs().resolve_job_def(collection_job.name)
    keys = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert keys >= {"every_source_answered", "raw_documents_schema"}
    checked = {key.asset_key.path[-1] for key in job.asset_layer.asset_graph.asset_check_keys
               if key.name == "every_source_answered"}
    assert checked == set(PLATFORM_ASSETS)
    assert job.tags["twin/job"] == "collection"


def test_the_run_queue_admits_one_collection_at_a_time():
    # The limit names the tag collection_job carries, in every instance config the project ships.
    import yaml as pyyaml

    repo = Path(__file__).resolve().parents[2]
    limit = {"key": "twin/job", "value": collection_job.tags["twin/job"], "limit": 1}
    for config in (repo / "dagster.yaml", repo / "infra" / "dagster" / "dagster.prod.yaml"):
        runs = pyyaml.safe_load(config.read_text())["concurrency"]["runs"]  # the run queue's limits
        assert limit in runs["tag_concurrency_limits"], config
