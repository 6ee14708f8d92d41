"""Generators, filters, the split by document, versioning and the dataset store."""

from __future__ import annotations

import pytest

from tests.datasets.documents import ARTICLE, POSTS, documents
from twin_core.datasets.build import build_instruction_dataset, build_preference_dataset
from twin_core.datasets.examples import Example
from twin_core.datasets.filters import FilterSettings, apply_filters, is_boilerplate
from twin_core.datasets.generators import OfflineGenerator, parse_instructions
from twin_core.datasets.schema import INSTRUCTION_SCHEMA, PREFERENCE_SCHEMA, validate
from twin_core.datasets.split import split_by_document
from twin_core.datasets.store import DatasetNotFound, DatasetStore
from twin_core.documents import Document
from twin_core.object_store import LocalFolderStore


def _example(answer: str, doc: str = "d1", instruction: str = "Write a post about testing.") -> Example:
    return Example(instruction, answer, doc, "h", "linkedin", "post", "write_post")


def test_offline_generator_answers_in_the_authors_own_words():
    examples = OfflineGenerator(section_chars=200).generate(documents())
    posts = [e for e in examples if e.task == "write_post"]
    assert [e.answer for e in posts] == POSTS
    assert posts[0].instruction == "Write a LinkedIn post about Shipping a model is the easy part."
    article = [e for e in examples if e.platform == "medium"]
    assert [e.task for e in article] == ["open_article", "continue_article", "continue_article"]
    assert article[0].instruction.startswith('Write the opening of a Medium article titled "Your pipeline')
    # "Continue" shows the previous section and expects the next one.
    assert article[0].answer in article[1].instruction
    assert all(e.answer in ARTICLE for e in article)


def test_filters_drop_short_boilerplate_and_duplicates_but_keep_siblings():
    long = POSTS[0]
    cross_posted = long.replace("the job", "the real job")  # same post on another platform
    examples = [
        _example(long, "d1"),
        _example(long, "d1", "Another instruction for the same extract"),  # sibling: kept
        _example(long, "d1"),  # exact duplicate
        _example(cross_posted, "d2"),  # near duplicate from another document
        _example("Too short.", "d3"),
        _example("Thanks for reading! Subscribe to my newsletter for more like this.", "d4"),
        _example("#ml #ai #mlops https://example.com/a https://example.com/b more", "d5"),
        _example(POSTS[1], "d6"),
    ]
    kept, removed = apply_filters(examples, FilterSettings())
    assert [(e.document_id, e.instruction) for e in kept] == [
        ("d1", "Write a post about testing."),
        ("d1", "Another instruction for the same extract"),
        ("d6", "Write a post about testing."),
    ]
    assert removed == {"length": 1, "boilerplate": 2, "exact_duplicate": 1, "near_duplicate": 1}
    assert not is_boilerplate(POSTS[2])


def test_split_is_by_document_stable_under_new_documents_and_seeded():
    examples = [_example(f"answer {i} " * 10, f"doc{i // 3}") for i in range(60)]
    split = split_by_document(examples, test_fraction=0.3, seed=7)
    train_docs = {e.document_id for e in split["train"]}
    test_docs = {e.document_id for e in split["test"]}
    assert train_docs and test_docs and not train_docs & test_docs
    assert 2 <= len(test_docs) <= 12  # about 30% of 20 documents
    # Input order does not matter; the seed does.
    assert {e.document_id for e in split_by_document(examples[::-1], 0.3, 7)["test"]} == test_docs
    assert any({e.document_id for e in split_by_document(examples, 0.3, s)["test"]} != test_docs for s in range(8, 12))
    # A new version with more documents keeps every document on its side.
    more = examples + [_example(f"new answer {i} " * 10, f"new{i}") for i in range(30)]
    grown = split_by_document(more, test_fraction=0.3, seed=7)
    assert {e.document_id for e in grown["test"]} & train_docs == set()
    assert test_docs <= {e.document_id for e in grown["test"]}
    # Two documents: each side still gets one.
    two = split_by_document(examples[:6], test_fraction=0.1, seed=0)
    assert len({e.document_id for e in two["test"]}) == 1
    assert len({e.document_id for e in two["train"]}) == 1


def test_dataset_version_is_a_content_hash_and_rebuilds_are_idempotent(tmp_path):
    store = DatasetStore(LocalFolderStore(tmp_path))
    built = build_instruction_dataset(documents(), OfflineGenerator(section_chars=200), test_fraction=0.2, seed=1)
    assert validate(INSTRUCTION_SCHEMA, built.rows) == []
    version, created = store.write("instruction", built.splits, built.manifest)
    assert created
    again = build_instruction_dataset(list(reversed(documents())), OfflineGenerator(section_chars=200), test_fraction=0.2, seed=1)
    assert store.write("instruction", again.splits, again.manifest) == (version, False)
    assert store.versions("instruction") == [version]
    assert store.latest("instruction") == version

    manifest = store.manifest("instruction")
    assert manifest["version"] == version
    assert manifest["splits"]["train"] + manifest["splits"]["test"] == manifest["rows"] == len(built.rows)
    assert manifest["generator"] == {"name": "offline", "settings": {"section_chars": 200}}
    assert manifest["source_documents"] == {d.id: d.content_hash for d in documents()}
    assert store.read("instruction", "train") == built.splits["train"]

    # A changed document gives a new version; the old one stays readable.
    docs = documents()
    docs[0] = Document.create(**{**{k: getattr(docs[0], k) for k in ("platform", "category", "author", "url", "title")},
                                 "content": POSTS[0] + " Edited."})
    changed = build_instruction_dataset(docs, OfflineGenerator(section_chars=200), test_fraction=0.2, seed=1)
    new_version, created = store.write("instruction", changed.splits, changed.manifest)
    assert created and new_version != version
    assert store.read("instruction", "train", version) == built.splits["train"]
    with pytest.raises(DatasetNotFound):
        store.read("instruction", "train", "0000")
    with pytest.raises(DatasetNotFound, match="none yet"):
        store.manifest("preference")


def test_schema_rejects_leaks_and_malformed_rows():
    built = build_instruction_dataset(documents(), OfflineGenerator(), test_fraction=0.2, seed=1)
    rows = [dict(r) for r in built.rows]
    leaked = dict(rows[0], split="test" if rows[0]["split"] == "train" else "train", id="other")
    assert any("both splits" in line for line in validate(INSTRUCTION_SCHEMA, [*rows, leaked]))
    broken = dict(rows[0], messages=[{"role": "assistant", "content": ""}])
    assert validate(INSTRUCTION_SCHEMA, [broken, *rows[1:]])


def test_preference_pairs_use_the_base_models_answer():
    built = build_instruction_dataset(documents(), OfflineGenerator(), test_fraction=0.2, seed=1)
    first_answer = Example.from_row(built.splits["train"][0]).answer

    def answer(prompts):  # stands in for the base model: one reply equals the author's text
        return [first_answer if i == 0 else f"generic reply {i}" for i, _ in enumerate(prompts)]

    pairs = build_preference_dataset(built.splits, answer)
    assert pairs.manifest["dropped_pairs"] == 1
    assert validate(PREFERENCE_SCHEMA, pairs.rows) == []
    row = pairs.splits["train"][0]
    assert row["rejected"][0]["content"] == "generic reply 1"
    assert row["chosen"][0]["content"] in {Example.from_row(r).answer for r in built.rows}
    # The prompt is the one the twin trains on: its system message first.
    assert row["prompt"][0]["role"] == "system" and row["prompt"][-1]["role"] == "user"


def test_chosen_answers_are_cut_to_the_rejected_answers_length():
    built = build_instruction_dataset(documents(), OfflineGenerator(), test_fraction=0.2, seed=1)

    def first_words(text: str) -> str:  # stands in for "the first N tokens of the base's tokenizer"
        return " ".join(text.split()[:5])

    pairs = build_preference_dataset(built.splits, lambda prompts: ["a short reply"] * len(prompts), fit_chosen=first_words)
    assert pairs.rows
    for row in pairs.rows:
        assert len(row["chosen"][0]["content"].split()) <= 5


def test_parse_instructions_accepts_common_reply_shapes():
    assert parse_instructions('```json\n["a", "b", "c"]\n```', 2) == ["a", "b"]
    assert parse_instructions('[{"instruction": "x"}]', 5) == ["x"]
    assert parse_instructions("no list here", 5) == []
    assert parse_instructions("[not json", 5) == []


def test_rows_take_the_served_prompt_shape_with_sources_from_other_training_documents():
    from twin_core.datasets.context import ContextSettings
    from twin_core.prompts import system_message

    built = build_instruction_dataset(
        documents(), OfflineGenerator(section_chars=200), test_fraction=0.3, seed=1,
        context=ContextSettings(share=1.0, sources=2, excerpt_chars=120),
    )
    assert validate(INSTRUCTION_SCHEMA, built.rows) == []
    by_url = {d.url: d for d in documents()}
    train_docs = {r["document_id"] for r in built.splits["train"]}
    with_sources = 0
    for row in built.rows:
        system, user, answer = row["messages"]
        assert system == {"role": "system", "content": system_message("Ada Example", row["platform"])}
        assert answer["role"] == "assistant"
        urls = [line.split('url="')[1].split('"')[0] for line in user["content"].splitlines() if line.startswith("<source ")]
        with_sources += bool(urls)
        for url in urls:
            source_doc = by_url[url].id
            assert source_doc != row["document_id"]  # never the answer's own document
            assert source_doc in train_docs  # never a held-out document
        if urls:
            assert user["content"].startswith("Sources:\n") and "\n\nRequest: " in user["content"]
    assert with_sources >= len(built.rows) // 2
    assert built.manifest["context"]["examples_with_sources"] == with_sources


def test_without_a_context_share_the_user_turn_is_the_bare_instruction():
    from twin_core.datasets.context import ContextSettings

    built = build_instruction_dataset(documents(), OfflineGenerator(section_chars=200), context=ContextSettings(share=0.0))
    for row in built.rows:
        assert row["messages"][0]["role"] == "system"
        assert not row["messages"][1]["content"].startswith("Sources:")
