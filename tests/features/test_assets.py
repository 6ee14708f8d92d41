"""The feature assets end to end with real parts: warehouse folder, Milvus Lite server, embedder.

``raw_documents`` is the collection stage's real asset; the warehouse is filled directly.
"""

import dagster as dg
import pytest
import yaml

from tests.fixtures.authors import materialize_author
from twin_assets.collection.assets import raw_documents
from twin_assets.features import defs as feature_defs
from twin_core.authors import AuthorStore
from twin_core.documents import Document
from twin_core.features import ChunkStore
from twin_core.object_store import LocalFolderStore
from twin_core.vector_index import VectorIndex
from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
from twin_resources.embedder import EmbedderResource
from twin_resources.milvus import MilvusResource
from twin_resources.object_store import LocalObjectStoreResource
from twin_resources.profiles import ProfilesResource

ASSETS = [raw_documents, *feature_defs.assets]
CHECKS = list(feature_defs.asset_checks)


def documents(article_body="Pipelines should be boring. " * 3):
    return [
        Document.create(
            platform="linkedin", category="post", author="Ana", url="https://linkedin.com/posts/1",
            title="𝐁𝐢𝐠 news", content="𝐁𝐢𝐠 news 🚀\n\nWe   shipped the feature store.",
        ),
        Document.create(
            platform="medium", category="article", author="Ana", url="https://medium.com/@ana/a",
            title="On pipelines", content=f"# Why\n\n{article_body}\n\n## How\n\nSmall steps, tested.",
        ),
        Document.create(
            platform="github", category="repository", author="Ana", url="https://github.com/ana/tool",
            title="tool", content="A tool.", files={"tool.py": "def run(x):\n    return  x * 2\n"},
        ),
    ]


@pytest.fixture
def setup(tmp_path, milvus_server, unique_collection):
    # Ana's partition: the feature assets read her slice of the store (documents/ana/...).
    store = AuthorStore(LocalFolderStore(tmp_path / "store"), "ana")
    warehouse = DocumentWarehouse(store)
    for document in documents():
        warehouse.upsert(document)
    resources = {
        "object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
        "embedder": EmbedderResource(),
        "milvus": MilvusResource(uri=milvus_server),
        "profiles": _profiles(tmp_path, "Ana"),
    }
    instance = dg.DagsterInstance.ephemeral()
    yield store, warehouse, resources, instance
    index = VectorIndex.for_model(milvus_server, "all-MiniLM-L6-v2", 384)
    if index.exists():
        index.drop()
    index.close()


def _profiles(folder, *names: str) -> ProfilesResource:
    path = folder / "twin.yaml"
    path.write_text(yaml.safe_dump({"authors": [{"name": name} for name in names]}))
    return ProfilesResource(path=str(path))


def run(resources, instance):
    result = materialize_author([*ASSETS, *CHECKS], resources=resources, instance=instance)
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"chunks_are_well_formed": True, "collection_matches_chunks": True, "vectors_match_model": True}
    return {
        key.to_user_string(): {name: getattr(value, "value", value) for name, value in m.metadata.items()}
        for key, m in ((e.asset_key, e.step_materialization_data.materialization) for e in result.get_asset_materialization_events())
    }


def collection_rows(uri):
    index = VectorIndex.for_model(uri, "all-MiniLM-L6-v2", 384)
    try:
        return {row["id"]: row for row in index.get(sorted(index.ids()))}
    finally:
        index.close()


def test_build_is_incremental_and_replaces_exactly_changed_chunks(setup, milvus_server):
    store, warehouse, resources, instance = setup

    first = run(resources, instance)
    cleaned = {d.platform: d for d in DocumentWarehouse(store, prefix=CLEANED_PREFIX).documents()}
    assert cleaned["linkedin"].content == "Big news 🚀\n\nWe shipped the feature store."
    assert cleaned["github"].files == {"tool.py": "def run(x):\n    return  x * 2\n"}
    total = first["chunks"]["chunks"]
    assert first["cleaned_documents"]["cleaned"] == 3
    assert first["chunk_embeddings"]["embedded"] == total > 3
    rows = collection_rows(milvus_server)
    assert set(rows) == {c.id for c in ChunkStore(store).chunks()}
    code = next(r for r in rows.values() if r["category"] == "repository" and r["text"].startswith("tool.py"))
    assert code["text"] == "tool.py\n\ndef run(x):\n    return  x * 2" and code["author"] == "Ana"

    second = run(resources, instance)
    assert second["cleaned_documents"]["cleaned"] == 0
    assert second["chunks"]["chunked_documents"] == 0 and second["chunks"]["chunks"] == total
    assert second["chunk_embeddings"]["embedded"] == 0 and second["chunk_embeddings"]["deleted"] == 0
    assert set(collection_rows(milvus_server)) == set(rows)

    # Change the article only: its old chunks go, its new ones come, nothing else is touched.
    article = documents(article_body="Pipelines should be tested first.")[1]
    assert warehouse.upsert(article) == "changed"
    old_article = {i for i, r in rows.items() if r["document_id"] == article.id}
    third = run(resources, instance)
    now = collection_rows(milvus_server)
    new_article = {i for i, r in now.items() if r["document_id"] == article.id}
    assert third["cleaned_documents"]["cleaned"] == 1 and third["chunks"]["chunked_documents"] == 1
    assert new_article.isdisjoint(old_article - new_article) and new_article != old_article
    assert set(now) - new_article == set(rows) - old_article
    assert third["chunk_embeddings"]["embedded"] == len(new_article - old_article)
    assert third["chunk_embeddings"]["deleted"] == len(old_article - new_article)

    # Remove the post: its chunks and cleaned record disappear.
    post = documents()[0]
    warehouse.delete(post.id, post.platform)
    fourth = run(resources, instance)
    assert fourth["cleaned_documents"]["removed"] == 1
    assert all(r["document_id"] != post.id for r in collection_rows(milvus_server).values())
    assert DocumentWarehouse(store, prefix=CLEANED_PREFIX).get(post.id, post.platform) is None


def test_collection_check_fails_when_the_collection_drifts(setup, milvus_server):
    store, _, resources, instance = setup
    run(resources, instance)
    index = VectorIndex.for_model(milvus_server, "all-MiniLM-L6-v2", 384)
    some_id = sorted(index.ids())[0]
    index.delete_ids([some_id])
    index.close()
    # The check alone (no partition: it checks every author in the profiles).
    result = dg.materialize(
        [*feature_defs.assets, *CHECKS], resources=resources, instance=instance,
        selection=dg.AssetSelection.checks(CHECKS[1]),
    )
    evaluation = result.get_asset_check_evaluations()[0]
    assert evaluation.asset_check_key.name == "collection_matches_chunks"
    assert not evaluation.passed and evaluation.metadata["missing"].value == 1


def test_a_post_whose_publication_moved_keeps_its_vectors_and_links_to_the_new_address(setup, milvus_server):
    store, warehouse, resources, instance = setup

    def post(url):
        return Document.create(platform="substack", category="article", author="Ana", url=url,
                               title="Boring pipelines", content="Pipelines should be boring. " * 5)

    old, new = post("https://ana.substack.com/p/boring"), post("https://boring.ana.dev/p/boring")
    assert old.id == new.id and old.content_hash == new.content_hash  # the same post
    warehouse.upsert(old)
    run(resources, instance)
    before = {i: r for i, r in collection_rows(milvus_server).items() if r["document_id"] == old.id}
    assert before and {r["url"] for r in before.values()} == {old.url}

    assert warehouse.upsert(new) == "changed"  # the record moves in place
    after = run(resources, instance)
    rows = {i: r for i, r in collection_rows(milvus_server).items() if r["document_id"] == old.id}
    assert set(rows) == set(before)  # the same chunks, not a second copy
    assert {r["url"] for r in rows.values()} == {new.url}
    assert after["chunk_embeddings"]["embedded"] == 0 and after["chunk_embeddings"]["relinked"] == len(rows)
    assert DocumentWarehouse(store, prefix=CLEANED_PREFIX).get(old.id, "substack").url == new.url
    assert {c.url for c in ChunkStore(store).chunks() if c.document_id == old.id} == {new.url}
