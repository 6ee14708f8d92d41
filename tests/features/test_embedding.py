"""The embedder matches the model's reference embeddings and keeps input order."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from twin_core.embedding import (
    BGE_QUERY_INSTRUCTION,
    DEFAULT_MODEL,
    Embedder,
    collection_suffix,
    model_defaults,
    resolve_model,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

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
    budget, embedder.max_tokens_per_batch = embedder.max_tokens_per_batch, 64  # several batches of mixed lengths
    try:
        together = embedder.encode_documents(TEXTS)
    finally:
        embedder.max_tokens_per_batch = budget
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


@pytest.fixture(scope="module")
def reference_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model(None)[1], device="cpu")


@pytest.fixture(scope="module")
def demo_texts(embedder):
    """Real texts: the demo corpus cleaned and chunked as the pipeline does, plus its sentences."""
    from twin_core.chunking import ChunkingConfig, chunk_document, sentences
    from twin_core.cleaning import clean_document, clean_prose
    from twin_core.crawlers import linkedin, medium, substack

    author = "Tamsin Vale"
    documents = [
        *linkedin.import_export(SAMPLES / "linkedin-export", author).documents,
        *medium.import_export(SAMPLES / "medium-export", author).documents,
        *substack.import_export(SAMPLES / "substack-export", "https://boringml.substack.com", author).documents,
    ]
    texts = [c.text for d in documents for c in chunk_document(clean_document(d), embedder.count_tokens, ChunkingConfig())]
    texts += [s for d in documents for p in clean_prose(d.content).split("\n\n") for s in sentences(p)]
    assert len(texts) > 200
    return texts


def _worst_cosine(vectors, reference):
    return float((vectors * reference).sum(axis=1).min())


def test_onnx_is_the_cpu_default_and_keeps_the_reference_vectors(embedder, demo_texts, reference_model):
    assert embedder.backend == "onnx" and embedder.exported
    assert embedder.onnx_path is not None and embedder.onnx_path.is_file()
    reference = reference_model.encode(demo_texts, batch_size=32, normalize_embeddings=True)
    assert _worst_cosine(embedder.encode_documents(demo_texts), reference) >= 0.9999


def test_torch_backend_gives_the_same_vectors(embedder):
    torch_embedder = Embedder(backend="torch")
    assert torch_embedder.backend == "torch" and torch_embedder.onnx_path is None
    assert torch_embedder.max_tokens_per_batch != embedder.max_tokens_per_batch  # each its own best
    assert np.allclose(torch_embedder.encode_documents(TEXTS), embedder.encode_documents(TEXTS), atol=1e-4)
    with pytest.raises(ValueError, match="'onnx' or 'torch'"):
        Embedder(backend="openvino")


def test_the_export_is_reused_from_its_content_addressed_folder(embedder):
    cache = embedder.onnx_path.parents[1]
    written = embedder.onnx_path.stat().st_mtime_ns
    again = Embedder(cache_dir=cache)
    assert not again.exported and again.onnx_path == embedder.onnx_path
    assert again.onnx_path.stat().st_mtime_ns == written
    folder = embedder.onnx_path.parent.name
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*")) == [folder, f"{folder}/encoder.onnx"]
    assert np.array_equal(again.encode_documents(TEXTS), embedder.encode_documents(TEXTS))


def test_the_cache_key_follows_the_weights(embedder, tmp_path):
    import torch

    from twin_core.embedding_onnx import cache_path

    network = torch.nn.Linear(4, 2)
    first = cache_path(network, "all-MiniLM-L6-v2", tmp_path)
    assert cache_path(network, "all-MiniLM-L6-v2", tmp_path) == first
    assert first.parent.name.startswith("all_minilm_l6_v2-")
    with torch.no_grad():
        network.weight[0, 0] += 1e-3
    assert cache_path(network, "all-MiniLM-L6-v2", tmp_path) != first
    assert cache_path(embedder._network, embedder.model_name, embedder.onnx_path.parents[1]) == embedder.onnx_path


def test_a_damaged_cache_file_is_exported_again_and_killed_exports_cleared(embedder, tmp_path):
    folder = tmp_path / embedder.onnx_path.parent.name
    folder.mkdir()
    (folder / "encoder.onnx").write_bytes(embedder.onnx_path.read_bytes()[:100_000])  # cut short
    killed = folder / ".export-k1ll3d"  # what an export killed two hours ago left behind
    (killed / "raw.onnx").parent.mkdir()
    (killed / "raw.onnx").write_bytes(b"partial")
    os.utime(killed, (time.time() - 7200,) * 2)
    repaired = Embedder(cache_dir=tmp_path)
    assert repaired.exported and repaired.onnx_path == folder / "encoder.onnx"
    assert sorted(p.name for p in folder.iterdir()) == ["encoder.onnx"]
    assert np.allclose(repaired.encode_documents(TEXTS), embedder.encode_documents(TEXTS), atol=1e-5)


def test_an_export_that_fails_its_check_is_never_published(tmp_path, monkeypatch):
    import twin_core.embedding

    monkeypatch.setattr(twin_core.embedding, "EXPORT_MIN_COSINE", 1.01)  # no export can pass
    with pytest.raises(RuntimeError, match="TWIN_EMBEDDING_BACKEND=torch"):
        Embedder(cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.onnx"))
    assert not list(tmp_path.rglob(".export-*"))


def test_an_unwritable_cache_is_a_sentence_with_the_remedy(tmp_path):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    with pytest.raises(RuntimeError, match="cannot be written to .*Make that folder writable"):
        Embedder(cache_dir=blocked)


def test_pipeline_api_and_cli_build_the_embedder_from_the_same_settings(tmp_path):
    from twin_core.embedding import embedder_options
    from twin_core.settings import Settings
    from twin_resources.sets import local_resources
    from twin_serving.retriever import Retriever

    settings = Settings.of(home=tmp_path, embedding_backend="torch", embedding_batch_size=8)
    options = embedder_options(settings)
    assert options == {
        "model": "all-MiniLM-L6-v2", "batch_size": 8, "backend": "torch",
        "cache_dir": str(tmp_path.resolve() / "cache" / "onnx"),
    }
    resource = local_resources(settings)["embedder"]
    assert {name: getattr(resource, name) for name in options} == options
    query_side = Retriever(settings).embedder
    assert (query_side.model_name, query_side.backend, query_side.batch_size) == ("all-MiniLM-L6-v2", "torch", 8)
