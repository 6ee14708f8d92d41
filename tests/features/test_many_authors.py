"""Two twins from the shipped samples, collected and embedded into one Milvus Lite collection.

``samples/two-authors.yaml`` names Tamsin Vale (terse notes on ML engineering) and Ines Duarte
(reflective field-ecology essays). The real collection assets read both authors' exports, the
feature assets chunk and embed them into one collection (author is its partition key), and a
search filtered by author returns that author's chunks only, even for a question the other
author's writing answers better.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.fixtures.authors import materialize_author
from twin_assets.collection.assets import platform_assets, raw_documents
from twin_assets.features import defs as feature_defs
from twin_core.embedding import Embedder
from twin_core.object_store import LocalFolderStore
from twin_core.vector_index import VectorIndex, build_filter
from twin_core.warehouse import DocumentWarehouse
from twin_resources.embedder import EmbedderResource
from twin_resources.http import CrawlerHttpResource
from twin_resources.milvus import MilvusResource
from twin_resources.object_store import LocalObjectStoreResource
from twin_resources.profiles import ProfilesResource

SAMPLES = Path(__file__).parents[2] / "samples"
AUTHORS = ["Tamsin Vale", "Ines Duarte"]
SLUGS = ["tamsin-vale", "ines-duarte"]
# Each question is about one author's subject; asked of the other twin it must still get only
# that twin's chunks.
QUESTIONS = {
    "Tamsin Vale": "How do I stop training-serving skew in my feature pipeline?",
    "Ines Duarte": "Why do volunteers count wading birds on the estuary every winter?",
}


def open_index(uri: str) -> VectorIndex:
    return VectorIndex.for_model(uri, "all-MiniLM-L6-v2", 384)


@pytest.fixture
def built(tmp_path, milvus_server):
    profile_dir = tmp_path / "samples"
    shutil.copytree(SAMPLES, profile_dir)  # the profile confines exports to its own folder
    index = open_index(milvus_server)
    if index.exists():
        index.drop()
    resources = {
        "object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
        "profiles": ProfilesResource(path=str(profile_dir / "two-authors.yaml")),
        "http": CrawlerHttpResource(),
        "embedder": EmbedderResource(),
        "milvus": MilvusResource(uri=milvus_server),
    }
    instance = dg.DagsterInstance.ephemeral()
    deleted = {}
    for slug in SLUGS:  # one run per author partition, into the same collection
        result = materialize_author(
            [*platform_assets, raw_documents, *feature_defs.assets, *feature_defs.asset_checks],
            resources=resources, author=slug, instance=instance,
        )
        assert result.success
        assert all(c.passed for c in result.get_asset_check_evaluations())
        (embedded,) = result.asset_materializations_for_node("chunk_embeddings")
        deleted[slug] = embedded.metadata["deleted"].value
    assert deleted == {slug: 0 for slug in SLUGS}  # the second author's run kept the first's rows
    yield LocalFolderStore(tmp_path / "store"), index
    index.drop()
    index.close()


def test_each_author_retrieves_only_their_own_chunks(built):
    store, index = built
    documents = list(DocumentWarehouse(store).documents())
    by_author = {a: {(d.platform, d.category) for d in documents if d.author == a} for a in AUTHORS}
    for author in AUTHORS:  # both exports of each author were read, under that author's name
        assert {("linkedin", "post"), ("medium", "article")} <= by_author[author]
    for author, slug in zip(AUTHORS, SLUGS, strict=True):  # each in their own slice of the warehouse
        mine = {d.author for d in DocumentWarehouse(store, f"documents/{slug}").documents()}
        assert mine == {author}
    rows = index.ids()
    assert len(rows) == index.count()
    stored = {row["author"] for row in index.get(sorted(rows))}
    assert stored == set(AUTHORS)

    embedder = Embedder()
    for topic_of, question in QUESTIONS.items():
        vector = embedder.encode_queries([question])
        (unfiltered,) = index.search(vector, [question], k=5)
        assert unfiltered[0].author == topic_of  # the question is the topic author's subject
        for author in AUTHORS:
            (hits,) = index.search(vector, [question], k=5, filter=build_filter(author=author))
            assert hits and {h.author for h in hits} == {author}
