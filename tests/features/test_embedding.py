"""The embedder matches the model's reference embeddings and keeps input order."""

import json

import numpy as np

from twin_core.embedding import (
    BGE_QUERY_INSTRUCTION,
    DEFAULT_MODEL,
    collection_suffix,
    model_defaults,
    resolve_model,
)

TEXTS = [
    "Data pipelines should be boring.",
    "I shipped a feature store last week and learned three things about backfills. " * 6,
    "def add(a, b):\n    return a + b",
    "Short.",
    "🚀 Emojis stay part of the voice!",
]


def test_default_model_resolves_to_the_packaged_folder():
    name, path = resolve_model(None)
    assert name == DEFAULT_MODEL
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2")[1] == path
    defaults = model_defaults(name, path)
    assert defaults == {"pooling": "mean", "query_instruction": None, "max_length": 256}


def test_bge_models_get_cls_pooling_and_the_query_instruction(tmp_path):
    assert model_defaults("bge-small-en-v1.5", "BAAI/bge-small-en-v1.5") == {
        "pooling": "cls", "query_instruction": BGE_QUERY_INSTRUCTION, "max_length": None,
    }
    folder = tmp_path / "bge-base-en-v1.5"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert resolve_model(str(folder)) == ("bge-base-en-v1.5", str(folder.resolve()))
    assert model_defaults("bge-base-en-v1.5", str(folder))["pooling"] == "cls"


def test_collection_suffix_is_milvus_safe():
    assert collection_suffix("all-MiniLM-L6-v2", 384) == "all_minilm_l6_v2_384"
    assert collection_suffix("BAAI/bge-small-en-v1.5", 384) == "baai_bge_small_en_v1_5_384"


def test_embeddings_match_sentence_transformers(embedder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(resolve_model(None)[1], device="cpu").encode(
        TEXTS, normalize_embeddings=True
    )
    vectors = embedder.encode_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.dimension) == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() > 0.9999, cosines


def test_batching_keeps_order_and_single_results(embedder):
    embedder.max_tokens_per_batch = 64  # force several batches of mixed lengths
    try:
        together = embedder.encode_documents(TEXTS)
    finally:
        embedder.max_tokens_per_batch = 4096
    alone = np.vstack([embedder.encode_documents([text]) for text in TEXTS])
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_queries_and_empty_input(embedder):
    assert embedder.encode_documents([]).shape == (0, 384)
    query = embedder.encode_queries("data pipelines")
    assert query.shape == (1, 384)
    # No instruction for MiniLM: a query embeds like the same passage.
    assert np.allclose(query[0], embedder.encode_documents(["data pipelines"])[0], atol=1e-5)
    related, unrelated = embedder.encode_documents([TEXTS[0], "A recipe for banana bread."])
    assert query[0] @ related > query[0] @ unrelated


def test_token_count_uses_the_model_tokenizer(embedder):
    assert embedder.count_tokens("hello") == 3  # [CLS] hello [SEP]
    assert embedder.max_length == 256
