"""The chunk collection on a real Milvus Lite server: idempotent creation, upsert, delete, search."""

import threading

import numpy as np
import pytest

from twin_core.vector_index import VectorIndex, build_filter, collection_name

DIM = 8


def rows(n, seed=0, author=lambda i: "Jane" if i % 2 else 'Bob "B"'):
    rng = np.random.default_rng(seed)
    return [
        {
            "id": f"c{i}", "document_id": f"d{i % 4}", "author": author(i), "platform": "linkedin" if i % 3 else "medium",
            "category": "post", "url": f"https://example.com/{i}", "title": f"Title {i}", "position": i,
            "text": "milvus vectors and retrieval" if i == 7 else f"notes about pipelines number {i}",
            "vector": rng.normal(size=DIM),
        }
        for i in range(n)
    ]


@pytest.fixture
def index(milvus_server, unique_collection):
    index = VectorIndex(milvus_server, collection=unique_collection, dimension=DIM)
    assert index.ensure_collection() is True
    yield index
    index.drop()
    index.close()


def test_collection_name_carries_model_and_dimension():
    assert collection_name("all-MiniLM-L6-v2", 384) == "chunks_v2_all_minilm_l6_v2_384"


def test_build_filter_quotes_values():
    assert build_filter() == ""
    assert build_filter(author='Bob "B"', platform=["linkedin", "medium"]) == (
        'author == "Bob \\"B\\"" and platform in ["linkedin", "medium"]'
    )


def test_creation_is_idempotent_and_checks_dimension(index, milvus_server):
    assert index.ensure_collection() is False
    other = VectorIndex(milvus_server, collection=index.collection, dimension=DIM * 2)
    with pytest.raises(ValueError, match="8-d"):
        other.ensure_collection()


def test_upsert_replaces_by_id_and_deletes(index):
    data = rows(12)
    index.upsert(data)
    index.upsert(data[:5])  # same ids again: no duplicates
    index.refresh()
    assert index.count() == 12
    assert set(index.ids()) == {f"c{i}" for i in range(12)}
    assert index.existing(["c1", "c999"]) == {"c1"}
    index.delete_documents(["d0"])  # c0, c4, c8
    index.delete_ids(["c1"])
    assert index.count() == 8
    assert set(index.ids()) == {f"c{i}" for i in range(12)} - {"c0", "c4", "c8", "c1"}


def test_batched_dense_search_matches_brute_force(index):
    data = rows(40)
    index.upsert(data)
    index.refresh()
    vectors = np.array([row["vector"] for row in data])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:3] + 0.01
    results = index.search(queries, k=5, mode="dense")
    assert len(results) == 3
    exact = np.argsort(-(queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ vectors.T, axis=1)[:, :5]
    for hits, expected in zip(results, exact, strict=True):
        assert [hit.id for hit in hits] == [f"c{i}" for i in expected]
        assert hits[0].score == pytest.approx(1.0, abs=1e-3)
        assert hits[0].title and hits[0].url.startswith("https://") and hits[0].platform


def test_search_returns_the_stored_vectors_when_asked(index):
    data = rows(10)
    index.upsert(data)
    index.refresh()
    stored = {row["id"]: np.asarray(row["vector"], dtype=np.float32) for row in data}
    query = np.ones((2, DIM))
    for mode, texts in (("dense", None), ("hybrid", ["milvus retrieval"] * 2)):
        plain = index.search(query, texts, k=3, mode=mode)
        assert all(hit.vector is None for hits in plain for hit in hits)
        assert "vector" not in plain[0][0].to_dict()
        with_vectors = index.search(query, texts, k=3, mode=mode, with_vectors=True)
        assert [[h.id for h in hits] for hits in with_vectors] == [[h.id for h in hits] for hits in plain]
        for hits in with_vectors:
            for hit in hits:
                np.testing.assert_allclose(hit.vector, stored[hit.id], rtol=1e-6)


def test_filters_and_hybrid_search(index):
    data = rows(20)
    index.upsert(data)
    index.refresh()
    query = np.ones((2, DIM))
    only_bob = index.search(query, k=20, filter=build_filter(author='Bob "B"', platform="medium"), mode="dense")
    assert only_bob[0] and {(h.author, h.platform) for h in only_bob[0]} == {('Bob "B"', "medium")}
    # BM25 pulls the one chunk with the query words to the top (k=5 makes every row a
    # dense candidate, so c7 gets both ranks fused).
    dense = index.search(query, ["milvus retrieval"] * 2, k=5)  # dense is the default
    hybrid = index.search(query, ["milvus retrieval", "milvus retrieval"], k=5, mode="hybrid")
    assert dense[0][0].id != "c7"
    assert [hits[0].id for hits in hybrid] == ["c7", "c7"]
    with pytest.raises(ValueError, match="differ in length"):
        index.search(query, ["one text"], k=3)


def test_search_rides_through_a_reload(index):
    index.upsert(rows(10))
    index.refresh()
    index.client.release_collection(index.collection)  # as refresh() does between flush and load
    reload = threading.Timer(0.5, index.client.load_collection, args=(index.collection,))
    reload.start()
    try:
        hits = index.search(np.ones((1, DIM)), k=3)
    finally:
        reload.join()
    assert len(hits[0]) == 3
