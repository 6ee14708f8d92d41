"""The collection assets under a real Dagster ``materialize``, against loopback pages and the
shipped LinkedIn sample export: idempotent re-runs, one changed page -> one changed record, bad
links reported without failing the asset, configuration errors failing it."""

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.fixtures.loopback import Fault, Reply
from twin_assets.collection.assets import platform_assets, raw_documents, raw_documents_schema
from twin_resources.http import CrawlerHttpResource
from twin_resources.object_store import LocalObjectStoreResource
from twin_resources.profiles import ProfilesResource

SAMPLES = Path(__file__).parents[2] / "samples"
PAGES = Path(__file__).parent / "pages"
ASSETS = [*platform_assets, raw_documents, raw_documents_schema]


def article(text: str) -> str:
    return (PAGES / "web_jsonld.html").read_text().replace("Make the date a parameter.", text)


@pytest.fixture
def site(loopback):
    loopback.route("/good", Reply(body=article("Make the date a parameter.")))
    loopback.route("/flaky", Fault.sequence(Reply(500, "boom"), Reply(body=(PAGES / "linkedin_2022.html").read_bytes())))
    loopback.route("/limited", Fault.sequence(Reply(429, "", {"Retry-After": "0"}), Reply(body=(PAGES / "substack_2020.html").read_bytes())))
    loopback.route("/slow", Fault.slow(1.2))
    loopback.route("/reset", Fault.reset)
    loopback.route("/truncated", Fault.truncated)
    loopback.route("/huge", Reply(body=b"<html><body><p>" + b"y" * (20 * 1024 * 1024) + b"</p></body></html>"))
    loopback.route("/loop", Reply(302, "", {"Location": "/loop"}))
    loopback.route("/latin", Reply(body="<html><body><article><p>Na\u00efve caf\u00e9 notes.</p></article></body></html>".encode("latin-1"), content_type="text/html"))
    return loopback


GOOD = ["/good", "/flaky", "/limited", "/latin"]
BAD = ["/slow", "/reset", "/truncated", "/huge", "/loop", "/missing"]


@pytest.fixture
def setup(site, tmp_path):
    profile = tmp_path / "twin.yaml"
    profile.write_text(yaml.safe_dump({"authors": [{
        "name": "Tamsin Vale",
        "linkedin": {"exports": [str(SAMPLES / "linkedin-export")]},
        "web": {"articles": [site.url(p) for p in GOOD + BAD]},
    }]}))
    resources = {
        "object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
        "profiles": ProfilesResource(path=str(profile)),
        "http": CrawlerHttpResource(timeout_s=0.4, max_retries=1, backoff_base_s=0.01, per_host_rate=0, max_bytes=2 * 1024 * 1024),
    }
    return resources, tmp_path / "store", dg.DagsterInstance.ephemeral()


def run(resources, instance):
    result = dg.materialize(ASSETS, resources=resources, instance=instance)
    assert result.success
    meta = {}
    for node in ("linkedin_posts", "custom_articles", "raw_documents", "medium_articles"):
        (event,) = result.asset_materializations_for_node(node)
        meta[node] = {k: v.value for k, v in event.metadata.items()}
        meta[node]["data_version"] = event.tags.get("dagster/data_version")
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    return meta


def snapshot(store: Path) -> dict[str, bytes]:
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in sorted((store / "documents").rglob("*")) if p.is_file()}


def test_materialize_twice_then_change_one_page(setup, site):
    resources, store, instance = setup
    first = run(resources, instance)
    assert first["linkedin_posts"]["new"] == 32
    web = first["custom_articles"]
    assert (web["documents"], web["new"], web["failed"]) == (len(GOOD), len(GOOD), len(BAD))
    failures = web["failures"]
    for path, reason in [("/slow", "timed out"), ("/reset", "connection"), ("/truncated", "connection broken"),
                         ("/huge", "byte limit"), ("/loop", "too many redirects"), ("/missing", "HTTP 404")]:
        assert site.url(path) in failures and reason in failures, path
    assert first["raw_documents"]["documents"] == 32 + len(GOOD)
    assert first["raw_documents"]["new"] == 32 + len(GOOD)
    stored = snapshot(store)
    assert len(stored) == 32 + len(GOOD)
    # Nothing half-written: every record parses and holds the full text of its page.
    records = [json.loads(data) for data in stored.values()]
    latin = next(r for r in records if "Naïve café notes." in r["content"])
    assert latin["url"] == site.url("/latin")
    assert not any(site.url(p) == r["url"] for r in records for p in BAD)

    second = run(resources, instance)
    assert second["linkedin_posts"]["unchanged"] == 32 and second["linkedin_posts"]["new"] == 0
    assert second["custom_articles"]["unchanged"] == len(GOOD)
    assert (second["raw_documents"]["new"], second["raw_documents"]["changed"]) == (0, 0)
    assert second["raw_documents"]["data_version"] == first["raw_documents"]["data_version"]
    assert second["raw_documents"]["warehouse_version"] == first["raw_documents"]["warehouse_version"]
    assert snapshot(store) == stored  # not a byte rewritten

    site.route("/good", Reply(body=article("Make the date a parameter, always.")))
    third = run(resources, instance)
    assert (third["custom_articles"]["changed"], third["custom_articles"]["new"]) == (1, 0)
    assert (third["raw_documents"]["changed"], third["raw_documents"]["new"], third["raw_documents"]["documents"]) == (1, 0, 32 + len(GOOD))
    assert third["raw_documents"]["data_version"] != first["raw_documents"]["data_version"]
    after = snapshot(store)
    changed_keys = [k for k in after if after[k] != stored[k]]
    assert len(changed_keys) == 1 and changed_keys[0].startswith("documents/web/")
    assert "a parameter, always." in json.loads(after[changed_keys[0]])["content"]


def test_configuration_error_fails_the_asset(setup):
    resources, _, instance = setup
    broken = dict(resources, profiles=ProfilesResource(path=str(Path(resources["profiles"].path).parent / "missing.yaml")))
    result = dg.materialize([platform_assets[0]], resources=broken, instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "profile configuration error" in failure.step_failure_data.user_failure_data.description
