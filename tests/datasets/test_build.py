"""Generators, filters, the split by document, versioning and the dataset store."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.datasets.documents import ARTICLE, POSTS, documents
from twin_core.datasets.build import build_instruction_dataset, build_preference_dataset
from twin_core.datasets.examples import Example
from twin_core.datasets.filters import FilterSettings, apply_filters, is_boilerplate
from twin_core.datasets.generators import OfflineGenerator, make_generator, parse_instructions
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


def test_split_is_by_document_and_seeded():
    examples = [_example(f"answer {i} " * 10, f"doc{i // 3}") for i in range(30)]
    split = split_by_document(examples, test_fraction=0.3, seed=7)
    train_docs = {e.document_id for e in split["train"]}
    test_docs = {e.document_id for e in split["test"]}
    assert train_docs and test_docs and not train_docs & test_docs
    assert len(test_docs) == 3
    # Input order does not matter; the seed does.
    assert {e.document_id for e in split_by_document(examples[::-1], 0.3, 7)["test"]} == test_docs
    assert any({e.document_id for e in split_by_document(examples, 0.3, s)["test"]} != test_docs for s in range(8, 12))
    # Two documents: each side still gets one.
    two = split_by_document(examples[:6], test_fraction=0.1, seed=0)
    assert len({e.document_id for e in two["test"]}) == 1


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


def test_parse_instructions_accepts_common_reply_shapes():
    assert parse_instructions('```json\n["a", "b", "c"]\n```', 2) == ["a", "b"]
    assert parse_instructions('[{"instruction": "x"}]', 5) == ["x"]
    assert parse_instructions("no list here", 5) == []
    assert parse_instructions("[not json", 5) == []


class _ChatServer(BaseHTTPRequestHandler):
    prompts: list[str] = []

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _ChatServer.prompts.append(body["messages"][0]["content"])
        reply = json.dumps(["Share a lesson about shipping models.", "What keeps a model honest?"])
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_llm_generator_writes_k_instructions_per_extract_over_http():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        generator = make_generator("llm", base_url=f"http://127.0.0.1:{server.server_address[1]}",
                                   pairs_per_extract=2, extract_chars=2000)
        examples = generator.generate(documents()[:2])
    finally:
        server.shutdown()
    assert len(examples) == 4
    assert [e.answer for e in examples] == [POSTS[0], POSTS[0], POSTS[1], POSTS[1]]
    assert examples[0].instruction == "Share a lesson about shipping models."
    assert POSTS[0] in _ChatServer.prompts[0]
    with pytest.raises(ValueError, match="base_url"):
        make_generator("llm")
    with pytest.raises(ValueError, match="unknown generator"):
        make_generator("magic")
