"""``twin authors list|forget``: a removed author's data stays until forgotten, and forgetting
deletes exactly theirs (store slice and Milvus rows), never the others' or the shared base."""

from __future__ import annotations

import numpy as np
import pytest

from twin_cli.main import main
from twin_core.authors import AuthorStore
from twin_core.chunking import Chunk
from twin_core.documents import Document
from twin_core.features import ChunkStore
from twin_core.object_store import LocalFolderStore
from twin_core.registry import BASE_MODEL, LATEST, PRODUCTION, ModelRegistry, twin_registry
from twin_core.settings import get_settings
from twin_core.vector_index import VectorIndex, build_filter
from twin_core.warehouse import DocumentWarehouse


def _author_data(store, slug: str, name: str, model_dir, index: VectorIndex) -> None:
    view = AuthorStore(store, slug)
    document = Document.create(platform="medium", category="article", author=name,
                               url=f"https://medium.com/@{slug}/p", title="P", content=f"{name} writes.")
    DocumentWarehouse(view).upsert(document)
    chunk = Chunk(id=f"c-{slug}", document_id=document.id, author=name, platform="medium", category="article",
                  url=document.url, title="P", position=0, text=document.content, token_count=3)
    ChunkStore(view).put(document, "v", [chunk])
    vector = np.random.default_rng(len(slug)).normal(size=384)
    index.upsert([{**chunk.to_dict(), "vector": (vector / np.linalg.norm(vector)).tolist()}])
    twin = twin_registry(store, slug)
    twin.set_alias(PRODUCTION, twin.register(model_dir, {}))


@pytest.fixture
def platform(tmp_path, monkeypatch, milvus_server, tiny_model_dir):
    profiles = tmp_path / "twin.yaml"
    profiles.write_text("authors:\n  - name: Ann Lee\n")  # Bob Ray was removed from the profiles
    monkeypatch.setenv("TWIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TWIN_PROFILES", str(profiles))
    monkeypatch.setenv("TWIN_MILVUS_URI", milvus_server)
    get_settings.cache_clear()
    store = LocalFolderStore(get_settings().store_root)
    base = ModelRegistry(store, BASE_MODEL)
    base.set_alias(LATEST, base.register(tiny_model_dir, {}))
    index = VectorIndex.for_model(milvus_server, "all-MiniLM-L6-v2", 384)
    if index.exists():
        index.drop()
    index.ensure_collection()
    _author_data(store, "ann-lee", "Ann Lee", tiny_model_dir, index)
    _author_data(store, "bob-ray", "Bob Ray", tiny_model_dir, index)
    index.refresh()
    yield store, index
    index.drop()
    index.close()
    get_settings.cache_clear()


def test_list_shows_authors_in_the_profiles_and_those_only_in_the_store(platform, capsys):
    assert main(["authors", "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["ann-lee"][1:] == ["yes", "1", "twin/ann-lee/v1"]
    assert rows["bob-ray"][1:] == ["no", "1", "twin/bob-ray/v1"]


def test_forget_says_what_it_deletes_then_deletes_only_that_author(platform, capsys):
    store, index = platform
    ann_keys = sorted(AuthorStore(store, "ann-lee").author_keys())
    assert main(["authors", "forget", "bob-ray"]) == 0
    out = capsys.readouterr().out
    assert "1 chunk rows in Milvus" in out and "nothing deleted: run again with --yes" in out
    assert twin_registry(store, "bob-ray").get_alias(PRODUCTION) == "v1"  # nothing gone yet

    assert main(["authors", "forget", "bob-ray", "--yes"]) == 0
    assert "deleted" in capsys.readouterr().out
    assert list(AuthorStore(store, "bob-ray").author_keys()) == []
    assert sorted(AuthorStore(store, "ann-lee").author_keys()) == ann_keys
    assert ModelRegistry(store, BASE_MODEL).resolve(LATEST) == "v1"  # the shared base stays
    assert index.ids(build_filter(author="Bob Ray")) == {}
    assert set(index.ids(build_filter(author="Ann Lee"))) == {"c-ann-lee"}


def test_an_author_still_in_the_profiles_is_not_forgotten(platform, capsys):
    store, _ = platform
    assert main(["authors", "forget", "ann-lee", "--yes"]) == 1
    assert "still in the profiles: remove them from twin.yaml" in capsys.readouterr().err
    assert twin_registry(store, "ann-lee").get_alias(PRODUCTION) == "v1"
