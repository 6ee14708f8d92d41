"""The collection assets under a real Dagster ``materialize``, against loopback pages and the
shipped LinkedIn sample export: idempotent re-runs, one changed page -> one changed record, bad
links reported without failing the asset, configuration errors failing it."""

import json
import shutil
import zipfile
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.fixtures.authors import materialize_author
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
    shutil.copytree(SAMPLES / "linkedin-export", tmp_path / "linkedin-export")  # inside the profile's folder
    profile.write_text(yaml.safe_dump({"authors": [{
        "name": "Tamsin Vale",
        "linkedin": {"exports": ["linkedin-export"]},
        "web": {"articles": [site.url(p) for p in GOOD + BAD]},
    }]}))
    resources = {
        "object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
        "profiles": ProfilesResource(path=str(profile)),
        "http": CrawlerHttpResource(timeout_s=0.4, max_retries=1, backoff_base_s=0.01, per_host_rate=0, max_bytes=2 * 1024 * 1024),
    }
    return resources, tmp_path / "store", dg.DagsterInstance.ephemeral()


def run(resources, instance):
    result = materialize_author(ASSETS, resources=resources, instance=instance)
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
    assert len(changed_keys) == 1 and changed_keys[0].startswith("documents/tamsin-vale/web/")
    assert "a parameter, always." in json.loads(after[changed_keys[0]])["content"]


def test_configuration_error_fails_the_asset(setup):
    resources, _, instance = setup
    broken = dict(resources, profiles=ProfilesResource(path=str(Path(resources["profiles"].path).parent / "missing.yaml")))
    result = materialize_author([platform_assets[0]], resources=broken, author="tamsin-vale", instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "profile configuration error" in failure.step_failure_data.user_failure_data.description


def _substack_profile(tmp_path: Path, url: str, exports: list[str]) -> ProfilesResource:
    profile = tmp_path / "twin.yaml"
    profile.write_text(yaml.safe_dump({"authors": [{
        "name": "Tamsin Vale", "substack": {"url": url, "exports": exports, "crawl": False},
    }]}))
    return ProfilesResource(path=str(profile))


def _materialize_one(asset, resources, instance) -> dict:
    result = materialize_author([asset], resources=resources, instance=instance)
    assert result.success
    (event,) = result.asset_materializations_for_node(asset.key.path[-1])
    return {k: v.value for k, v in event.metadata.items()}


def test_new_substack_url_updates_the_same_documents(tmp_path):
    substack_posts = next(a for a in platform_assets if a.key.path[-1] == "substack_posts")
    store = tmp_path / "store"
    resources = {
        "object_store": LocalObjectStoreResource(root=str(store)),
        "http": CrawlerHttpResource(timeout_s=0.4, max_retries=0),
    }
    instance = dg.DagsterInstance.ephemeral()
    shutil.copytree(SAMPLES / "substack-export", tmp_path / "substack-export")  # inside the profile's folder
    exports = ["substack-export"]
    first = _materialize_one(substack_posts, {**resources, "profiles": _substack_profile(tmp_path, "https://boringml.substack.com", exports)}, instance)
    before = {p.name: json.loads(p.read_bytes()) for p in (store / "documents" / "tamsin-vale" / "substack").iterdir()}
    assert first["new"] == 7 and all(r["url"].startswith("https://boringml.substack.com/p/") for r in before.values())

    moved = _materialize_one(substack_posts, {**resources, "profiles": _substack_profile(tmp_path, "https://www.boringml.com", exports)}, instance)
    after = {p.name: json.loads(p.read_bytes()) for p in (store / "documents" / "tamsin-vale" / "substack").iterdir()}
    assert (moved["new"], moved["changed"], moved["superseded"]) == (0, 7, 0)
    assert sorted(after) == sorted(before)  # the same records, updated in place
    assert all(r["url"].startswith("https://www.boringml.com/p/") for r in after.values())
    assert [after[k]["content_hash"] for k in sorted(after)] == [before[k]["content_hash"] for k in sorted(before)]


def test_records_stored_under_url_ids_are_superseded(tmp_path):
    # A warehouse filled when a Substack post's id was the hash of its URL: the next collection
    # keeps each post once, under its channel-independent id.
    from dataclasses import replace

    from twin_core.authors import AuthorStore
    from twin_core.crawlers import substack
    from twin_core.documents import _id_of, canonical_url
    from twin_core.warehouse import DocumentWarehouse
    from twin_resources.object_store import LocalObjectStoreResource as Store

    warehouse = DocumentWarehouse(AuthorStore(Store(root=str(tmp_path / "store")).open(), "tamsin-vale"))
    for doc in substack.import_export(SAMPLES / "substack-export", "https://boringml.substack.com", "Tamsin Vale").documents:
        old = replace(doc, id=_id_of("substack", canonical_url(doc.url)))
        warehouse.store.put_bytes(warehouse.key(old.id, old.platform), old.to_json().encode())
    substack_posts = next(a for a in platform_assets if a.key.path[-1] == "substack_posts")
    resources = {
        "object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
        "http": CrawlerHttpResource(timeout_s=0.4, max_retries=0),
        "profiles": _substack_profile(tmp_path, "https://www.boringml.com", ["substack-export"]),
    }
    shutil.copytree(SAMPLES / "substack-export", tmp_path / "substack-export")  # inside the profile's folder
    meta = _materialize_one(substack_posts, resources, dg.DagsterInstance.ephemeral())
    assert (meta["new"], meta["superseded"]) == (7, 7)
    assert len(list(warehouse.documents("substack"))) == 7


def test_hostile_exports_and_apis_never_fail_the_asset(tmp_path, loopback):
    (tmp_path / "not-a-zip.zip").write_bytes(b"PK\x03\x04 truncated")
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive, archive.open("Shares.csv", "w") as member:
        for _ in range(40):
            member.write(b"\0" * (1 << 20))
    loopback.route("/api/v1/archive?sort=new&offset=0&limit=12", Reply(body='[{"slug": "a"}]', content_type="application/json"))
    loopback.route("/api/v1/archive?sort=new&offset=12&limit=12", Reply(body="[]", content_type="application/json"))
    loopback.route("/api/v1/posts/a", Reply(body='[{"body_html": "<p>x</p>"}]', content_type="application/json"))
    shutil.copytree(SAMPLES / "linkedin-export", tmp_path / "linkedin-export")  # inside the profile's folder
    profile = tmp_path / "twin.yaml"
    profile.write_text(yaml.safe_dump({"authors": [{
        "name": "T",
        "linkedin": {"exports": ["not-a-zip.zip", "bomb.zip", "linkedin-export"]},
        "substack": {"url": loopback.base, "crawl": True},
    }]}))
    resources = {
        "object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
        "http": CrawlerHttpResource(timeout_s=0.4, max_retries=0, per_host_rate=0),
        "profiles": ProfilesResource(path=str(profile)),
    }
    selection = [a for a in platform_assets if a.key.path[-1] in {"linkedin_posts", "substack_posts"}]
    result = materialize_author(selection, resources=resources)
    assert result.success
    meta = {n: {k: v.value for k, v in result.asset_materializations_for_node(n)[0].metadata.items()} for n in ("linkedin_posts", "substack_posts")}
    assert meta["linkedin_posts"]["new"] == 32 and meta["linkedin_posts"]["failed"] == 2
    assert "not a zip archive" in meta["linkedin_posts"]["failures"] and "inflates to 40 MB" in meta["linkedin_posts"]["failures"]
    assert meta["substack_posts"]["failed"] == 1
    assert "post API failed (post API answered with a list instead of a post)" in meta["substack_posts"]["failures"]


def test_an_unexpected_crawler_error_is_one_line_not_a_failed_asset(setup, monkeypatch):
    # A crawler bug on input nobody foresaw (here: a KeyError) costs that source, not the run.
    from twin_core.crawlers import linkedin

    def broken(path, author):
        raise KeyError("ShareCommentary")

    monkeypatch.setattr(linkedin, "import_export", broken)
    resources, _, instance = setup
    linkedin_posts = next(a for a in platform_assets if a.key.path[-1] == "linkedin_posts")
    meta = _materialize_one(linkedin_posts, resources, instance)
    assert meta["failed"] == 1
    assert "could not be read: an unexpected KeyError in the crawler (details in the run log)" in meta["failures"]
