"""Chunks are token-aware (the embedder's tokenizer), per category, stable and never too long."""

import pytest

from twin_core.chunking import ChunkingConfig, chunk_document, chunk_id, split_to_fit
from twin_core.documents import Document


@pytest.fixture(scope="module")
def count():
    from transformers import AutoTokenizer

    from twin_core.embedding import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None)[1])
    return lambda text: len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


def doc(category="article", content="", files=None, platform="medium"):
    return Document.create(
        platform=platform, category=category, author="Ana", url=f"https://x.io/{category}",
        title="T", content=content, files=files,
    )


def test_short_post_is_one_chunk_with_its_line_breaks(count):
    post = doc("post", "Shipped it 🚀\nThanks team!\n\nMore soon.", platform="linkedin")
    chunks = chunk_document(post, count, ChunkingConfig(max_tokens=64))
    assert [c.text for c in chunks] == [post.content]
    assert chunks[0].id == chunk_id(post.id, post.content)
    assert chunks[0].token_count == count(post.content)


def test_long_article_splits_on_headings_then_sentences_with_overlap(count):
    body = " ".join(f"Sentence {i} is about pipelines." for i in range(40))
    article = doc(content=f"# Intro\n\n{body}\n\n## Next\n\nA short closing paragraph.")
    config = ChunkingConfig(max_tokens=64, overlap_tokens=16)
    chunks = chunk_document(article, count, config)
    assert all(0 < c.token_count <= 64 for c in chunks)
    assert chunks[-1].text == "## Next\n\nA short closing paragraph."  # a heading starts a chunk
    intro = [c.text for c in chunks[:-1]]
    assert len(intro) > 2
    for previous, following in zip(intro, intro[1:], strict=False):
        # Overlap: the next chunk opens with sentences that closed the previous one.
        opening = following.split(". ")[0] + "."
        assert previous.index(opening) > 0 and previous.rsplit(". ", 1)[-1] in following
    assert [c.position for c in chunks] == list(range(len(chunks)))
    # Stable: the same document chunks to the same ids.
    assert [c.id for c in chunk_document(article, count, config)] == [c.id for c in chunks]


def test_python_splits_at_functions_and_classes_keeping_indentation(count):
    source = (
        '"""Module."""\nimport os\n\n\n'
        "@cache\ndef first(a):\n    return  a  # spaced\n\n\n"
        "class Second:\n    def a(self):\n        return 1\n\n    def b(self):\n        return 2\n"
    )
    repo = doc("repository", "A repo.", {"pkg/mod.py": source}, platform="github")
    chunks = chunk_document(repo, count, ChunkingConfig(max_tokens=40))
    code = [c.text for c in chunks if c.text.startswith("pkg/mod.py\n")]
    assert chunks[0].text == "A repo."
    assert code == [
        'pkg/mod.py\n\n"""Module."""\nimport os\n\n@cache\ndef first(a):\n    return  a  # spaced',
        "pkg/mod.py\n\nclass Second:\n    def a(self):\n        return 1\n\n    def b(self):\n        return 2",
    ]


def test_other_languages_and_broken_python_split_at_blank_lines(count):
    js = "function a() {\n  return 1;\n}\n\nfunction b() {\n  return 2;\n}\n"
    broken = "def f(:\n    pass\n\nx = 1\n"
    repo = doc("repository", "", {"a.js": js, "b.py": broken}, platform="github")
    texts = [c.text for c in chunk_document(repo, count, ChunkingConfig(max_tokens=20))]
    assert texts == [
        "a.js\n\nfunction a() {\n  return 1;\n}",
        "a.js\n\nfunction b() {\n  return 2;\n}",
        "b.py\n\ndef f(:\n    pass\n\nx = 1",  # small blocks share a chunk
    ]


def test_nothing_exceeds_the_limit_even_unbroken_text(count):
    blob = "x" * 3000 + " " + "word " * 500
    article = doc(content=blob + "\n\n" + "y" * 2000)
    chunks = chunk_document(article, count, ChunkingConfig(max_tokens=32, overlap_tokens=8))
    assert chunks and all(0 < c.token_count <= 32 for c in chunks)
    assert all(count(piece) <= 10 for piece in split_to_fit("z" * 500, count, 10))


def test_empty_and_repeated_chunks_are_dropped(count):
    assert chunk_document(doc(content="   \n\n  "), count) == []
    repeated = doc(content="# A\n\nSame text.\n\n# A\n\nSame text.")
    chunks = chunk_document(repeated, count, ChunkingConfig(max_tokens=64))
    assert [c.text for c in chunks] == ["# A\n\nSame text."]
