"""An author's view of the object store: each twin's keys apart, the base model shared."""

from __future__ import annotations

import pytest

from twin_core.authors import AuthorNotFound, AuthorStore, author_slug, find_author
from twin_core.datasets.store import INSTRUCTION_DATASET, DatasetStore
from twin_core.documents import Document
from twin_core.object_store import LocalFolderStore
from twin_core.profiles import Profiles
from twin_core.registry import BASE_MODEL, PRODUCTION, TWIN_MODEL, ModelRegistry
from twin_core.warehouse import DocumentWarehouse


def test_slugs_are_ascii_dashed_and_refuse_names_without_letters():
    assert author_slug("Inês Duarte") == "ines-duarte"
    assert author_slug("  Tamsin  Vale (PhD) ") == "tamsin-vale-phd"
    with pytest.raises(ValueError, match="no letters or digits"):
        author_slug("!!!")


def test_two_authors_share_a_store_without_seeing_each_other(tmp_path):
    sample_document = Document.create(platform="medium", category="article", author="Ann",
                                      url="https://medium.com/@ann/p-1", title="P", content="Text.")
    store = LocalFolderStore(tmp_path)
    ann, bob = AuthorStore(store, "ann"), AuthorStore(store, "bob")
    assert DocumentWarehouse(ann).upsert(sample_document) == "new"
    assert [d.id for d in DocumentWarehouse(ann).documents()] == [sample_document.id]
    assert list(DocumentWarehouse(bob).documents()) == []
    assert all(k.startswith("documents/ann/") for k in store.list_keys("documents/"))

    version, _ = DatasetStore(ann).write(INSTRUCTION_DATASET, {"train": [{"a": 1}], "test": []}, {})
    assert DatasetStore(ann).latest(INSTRUCTION_DATASET) == version
    assert DatasetStore(bob).latest(INSTRUCTION_DATASET) is None
    assert store.exists(f"datasets/instruction/ann/{version}/train.jsonl")


def test_twins_are_registered_per_author_on_one_shared_base(tmp_path):
    store = LocalFolderStore(tmp_path)
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    base = ModelRegistry(AuthorStore(store, "ann"), BASE_MODEL).register(folder, {})
    assert ModelRegistry(AuthorStore(store, "bob"), BASE_MODEL).versions() == [base]  # one base for all

    ann = ModelRegistry(AuthorStore(store, "ann"), TWIN_MODEL)
    version = ann.register(folder, {"metrics": {"bits_per_byte": 1.2}})
    ann.set_alias(PRODUCTION, version)
    assert store.exists(f"models/twin/ann/{version}/model_card.json")  # models/twin/<author-slug>/<version>/
    assert ModelRegistry(AuthorStore(store, "bob"), TWIN_MODEL).get_alias(PRODUCTION) is None
    assert ModelRegistry(AuthorStore(store, "ann"), TWIN_MODEL).resolve(PRODUCTION) == version


def test_an_unknown_author_is_refused_with_the_authors_there_are():
    profiles = Profiles.model_validate({"authors": [{"name": "Tamsin Vale"}, {"name": "Inês Duarte"}]})
    assert find_author(profiles, "ines-duarte").name == "Inês Duarte"
    with pytest.raises(AuthorNotFound, match="authors: tamsin-vale, ines-duarte"):
        find_author(profiles, "bob")
