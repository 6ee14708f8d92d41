"""Embedding throughput: our ``Embedder`` vs sentence-transformers ``encode`` on the same model
and texts. Run: ``.venv/bin/python -m benchmarks.embedding [--rounds 3]``.

Texts: the demo corpus (samples/) as chunks, paragraphs and sentences, a realistic mix of
lengths (~10 to 256 tokens). Variants run interleaved, round after round, so that machine load
hits them alike; the median texts/s of each is compared with sentence-transformers'
(batch 32, its own length sorting). Every vector's cosine to the fp32 sentence-transformers
reference is checked (goal: >= 0.99; speed goal >= 2x).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

from benchmarks._corpus import demo_documents, sentences


def texts() -> list[str]:
    from twin_core.chunking import ChunkingConfig, chunk_document
    from twin_core.cleaning import clean_document, clean_prose
    from twin_core.embedding import Embedder

    documents = demo_documents()
    counter = Embedder()  # only its tokenizer is used here
    out = [c.text for d in documents for c in chunk_document(clean_document(d), counter.count_tokens, ChunkingConfig())]
    out += [p for d in documents for p in clean_prose(d.content).split("\n\n") if len(p) > 40]
    out += sentences(documents)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import torch
    from FlagEmbedding import FlagModel
    from sentence_transformers import SentenceTransformer

    from twin_core.embedding import Embedder, resolve_model

    corpus = texts()
    path = resolve_model(None)[1]
    reference_model = SentenceTransformer(path, device="cpu")
    stock = FlagModel(path, pooling_method="mean", use_fp16=False, devices="cpu", passage_max_length=256, batch_size=32)
    variants = {
        "sentence-transformers": lambda: reference_model.encode(corpus, batch_size=32, normalize_embeddings=True),
        "FlagEmbedding stock": lambda: stock.encode_corpus(corpus),
        "Embedder fp32": Embedder().encode_documents,
        "Embedder int8": Embedder(quantize=True).encode_documents,
    }
    reference = variants["sentence-transformers"]()
    vectors = {}
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, encode in variants.items():
            began = time.perf_counter()
            out = encode(corpus) if name.startswith("Embedder") else encode()
            speeds[name].append(len(corpus) / (time.perf_counter() - began))
            vectors[name] = np.asarray(out)
    baseline = statistics.median(speeds["sentence-transformers"])
    tokens = sum(min(len(ids), 256) for ids in reference_model.tokenizer(corpus)["input_ids"])
    print(f"{len(corpus)} texts, {tokens / len(corpus):.0f} tokens on average, torch threads {torch.get_num_threads()}, {args.rounds} rounds")
    print(f"{'variant':<24} {'texts/s':>8} {'ratio':>6} {'min cos':>8}")
    for name in variants:
        cosines = (vectors[name] * reference).sum(axis=1)
        speed = statistics.median(speeds[name])
        print(f"{name:<24} {speed:>8.1f} {speed / baseline:>6.2f} {cosines.min():>8.4f}")
    met = [
        name for name in variants
        if name.startswith("Embedder")
        and statistics.median(speeds[name]) >= 2 * baseline
        and (vectors[name] * reference).sum(axis=1).min() >= 0.99
    ]
    print(f"goal: >= 2x with every cosine >= 0.99 -> {'met by ' + ', '.join(met) if met else 'NOT met'}")


if __name__ == "__main__":
    main()
