"""Retrieval: quality of hybrid vs dense search, and index latency/recall vs exact brute force.

Run: ``.venv/bin/python -m benchmarks.retrieval [--sizes 10000 100000] [--queries 200]``.

1. **Quality** on the demo corpus (samples/): each question names the document that answers it
   (paraphrased, so words rarely match exactly). Hit@5 and MRR@10 at document level, dense-only
   vs hybrid (dense + BM25, RRF), through ``VectorIndex.search``, all questions in one call.
2. **Index** at each size: vectors derived from real embeddings (sentences of the demo corpus
   embedded with the default model, then each copied with small Gaussian noise and re-normalised,
   because embedding 100k texts on a laptop CPU takes an hour). Queries are held-out perturbed
   copies. For each index configuration: build time (flush + release + load), single-query p50/p99
   latency through the Milvus Lite server, recall@10 against exact numpy brute force over the same
   vectors, and the amortised cost per query when all queries go in one call. Baseline: numpy brute
   force (one matrix-vector product + argpartition per query) in the same process.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._corpus import demo_documents, sentences

K = 10

# (question, a phrase of the answering document's cleaned title; any document with it counts)
QUESTIONS = [
    ("why should a startup hire an engineer before a researcher for AI", "Why Your First ML Hire"),
    ("what to ask when a model is presented for approval", "Five Questions for Every Model Review"),
    ("the test examples define what the product must do", "The Evaluation Set Is the Product Spec"),
    ("a feature computed one way offline and another way online", "Training-Serving Skew"),
    ("how to undo a bad model release quickly", "Rolling Back a Model"),
    ("jobs that can be re-run safely after a crash", "Survive Being Run Twice"),
    ("labels arrive late so watch the feature distributions", "Monitoring Inputs Before Outputs"),
    ("many small iterations instead of one giant training run", "Small Models, Fast Loops"),
    ("how building search systems improved my writing", "What Retrieval Taught Me About Writing"),
    ("check the number of records after every join", "Count Your Rows"),
    ("lock library versions and seeds so a model can be rebuilt", "Pin Everything"),
    ("what the on-call page should say before launch", "Write the Runbook First"),
    ("same examples leaking between training and evaluation", "Deduplicate Across Splits"),
    ("observability for each step of an LLM request", "Trace the Whole Request"),
    ("a worse model promoted automatically at night", "Gates That Actually Block"),
    ("official data exports versus scraping HTML", "Exports Beat Scraping"),
    ("send real traffic to a new model without showing users", "Shadow deployments"),
    ("cloud GPU costs from idle notebooks", "The GPU bill"),
    ("do small teams need a feature store", "feature store yet"),
    ("skip re-embedding documents that did not change", "Caching embeddings"),
    ("reviewing and versioning prompt changes", "Prompt templates"),
    ("where model weights, tokenizer and card are stored", "model registry"),
    ("response time target decided by the product", "latency budget"),
    ("annotations have bugs and need review", "Labels are code"),
    ("historical reprocessing breaks jobs written only for today", "Backfills"),
    ("split text on headings and paragraphs, not fixed sizes", "Chunking advice"),
    ("retrain a small model every day rather than a big one every year", "retrain daily"),
]
# Short keyword queries, as people type them into `twin search`.
KEYWORDS = [
    ("runbook", "Write the Runbook First"),
    ("shadow deployment", "Shadow deployments"),
    ("feature store", "feature store yet"),
    ("content hash embedding cache", "Caching embeddings"),
    ("RAG search problem", "Retrieval-augmented generation"),
    ("onboarding platform", "two-hour onboarding"),
    ("data versioning stakeholder", "data versioning"),
    ("GPU idle time", "The GPU bill"),
    ("trace prompts", "trace everything"),
    ("deduplicate splits", "Deduplicate Across Splits"),
]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def quality(uri: str, embedder) -> None:
    from twin_core.chunking import ChunkingConfig, chunk_document
    from twin_core.cleaning import clean_document
    from twin_core.vector_index import VectorIndex

    documents = [clean_document(d) for d in demo_documents()]
    by_phrase = {}
    for phrase in (p for _, p in QUESTIONS + KEYWORDS):
        matches = [d.id for d in documents if phrase.lower() in d.title.lower()]
        if not matches:
            raise SystemExit(f"question target {phrase!r} matches no document")
        by_phrase[phrase] = set(matches)  # a post and an article may share a topic
    chunks = [c for d in documents for c in chunk_document(d, embedder.count_tokens, ChunkingConfig(max_tokens=embedder.max_length))]
    index = VectorIndex(uri, collection="bench_quality", dimension=embedder.dimension)
    if index.exists():
        index.drop()
    index.ensure_collection()
    vectors = embedder.encode_documents([c.text for c in chunks])
    index.upsert([{**c.to_dict(), "vector": v} for c, v in zip(chunks, vectors, strict=True)])
    index.refresh()
    print(f"quality: {len(documents)} demo documents, {len(chunks)} chunks")
    print(f"{'questions':<22} {'mode':<7} {'hit@1':>6} {'hit@5':>6} {'MRR@10':>7}")
    for label, cases in (("paraphrased", QUESTIONS), ("keywords", KEYWORDS), ("all", QUESTIONS + KEYWORDS)):
        queries = [q for q, _ in cases]
        query_vectors = embedder.encode_queries(queries)
        for mode in ("dense", "hybrid"):
            results = index.search(query_vectors, queries, k=K * 3, mode=mode)
            hits1 = hits5 = 0
            reciprocal = 0.0
            for (_, phrase), hits in zip(cases, results, strict=True):
                ranked = list(dict.fromkeys(h.document_id for h in hits))[:K]
                ranks = [ranked.index(t) + 1 for t in by_phrase[phrase] if t in ranked]
                if ranks:
                    rank = min(ranks)
                    hits1 += rank == 1
                    hits5 += rank <= 5
                    reciprocal += 1 / rank
            n = len(cases)
            print(f"{label + f' ({n})':<22} {mode:<7} {hits1 / n:>6.2f} {hits5 / n:>6.2f} {reciprocal / n:>7.3f}")
    expansion_quality(index, embedder, by_phrase)
    index.drop()


# The same questions as requests are written to the API (instructions around the topic).
REQUESTS = ["Write a LinkedIn post in my voice about {q}", "Draft a Medium article on {q}, using my past content",
            "Can you write a short Substack note about {q} in my style?", "{q}"]


def expansion_quality(index, embedder, by_phrase: dict[str, set[str]]) -> None:
    """Rule-based query expansion (``twin_serving.rag.expansion``) on or off, through the API's
    own retrieval and MMR: does searching the request's topic and keywords beside the request
    find the answering document more often?"""
    from twin_serving.rag.expansion import expand
    from twin_serving.rag.rerank import mmr
    from twin_serving.rag.retrieval import retrieve

    cases = QUESTIONS + KEYWORDS
    print(f"\nquery expansion, {len(cases)} questions written as requests (per_query_k 6, top 5 after MMR)")
    print(f"{'request form':<60} {'variants':>8} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}")
    for form in REQUESTS:
        for variants in (1, 2, 3):
            hits1 = hits5 = 0
            reciprocal = 0.0
            for question, phrase in cases:
                found = retrieve(embedder, index, expand(form.format(q=question), variants), 6, None, with_vectors=True)
                chosen = mmr(found.hits, found.query_vectors[0], [list(h.vector) for h in found.hits], 5)
                ranked = list(dict.fromkeys(h.document_id for h in chosen))
                ranks = [ranked.index(t) + 1 for t in by_phrase[phrase] if t in ranked]
                if ranks:
                    hits1 += min(ranks) == 1
                    hits5 += 1
                    reciprocal += 1 / min(ranks)
            n = len(cases)
            print(f"{form:<60} {variants:>8} {hits1 / n:>6.2f} {hits5 / n:>6.2f} {reciprocal / n:>6.3f}")


def derived_vectors(base: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.35) -> np.ndarray:
    """``n`` unit vectors near real embeddings (noise relative to a unit vector's per-axis scale)."""
    picks = base[rng.integers(0, len(base), n)]
    scale = noise / np.sqrt(base.shape[1])
    out = picks + rng.normal(0, scale, picks.shape).astype(np.float32)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


CONFIGS = [
    ("HNSW M=16 efC=200", {"index_type": "HNSW", "metric_type": "COSINE", "params": {"M": 16, "efConstruction": 200}}, [("ef", 16), ("ef", 32), ("ef", 64), ("ef", 128)]),
    ("HNSW M=8 efC=100", {"index_type": "HNSW", "metric_type": "COSINE", "params": {"M": 8, "efConstruction": 100}}, [("ef", 32), ("ef", 64)]),
    ("IVF_FLAT nlist=128", {"index_type": "IVF_FLAT", "metric_type": "COSINE", "params": {"nlist": 128}}, [("nprobe", 8), ("nprobe", 32)]),
]


def index_benchmark(uri: str, vectors: np.ndarray, queries: np.ndarray, configs) -> None:
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri=uri, timeout=600)
    n, dim = vectors.shape
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :K]

    # Baseline: exact brute force in numpy, one query at a time.
    brute = []
    for q in queries:
        began = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(-scores, K)[:K]
        top[np.argsort(-scores[top])]
        brute.append((time.perf_counter() - began) * 1000)
    b50, b99 = percentile(brute, 50), percentile(brute, 99)
    print(f"\nindex: {n} vectors x {dim}, {len(queries)} queries; brute force numpy p50 {b50:.2f} ms, p99 {b99:.2f} ms (recall 1.00)")
    print(f"{'config':<22} {'param':<11} {'build s':>8} {'p50 ms':>7} {'p99 ms':>7} {'p50/bf':>7} {'recall@10':>9} {'batch ms/q':>10}")

    name = f"bench_index_{n}"
    for label, index_params, search_params in configs:
        if client.has_collection(name):
            client.drop_collection(name)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        params = client.prepare_index_params()
        params.add_index(field_name="vector", **index_params)
        client.create_collection(name, schema=schema, index_params=params)
        began = time.perf_counter()
        for start in range(0, n, 2000):
            client.insert(name, [{"id": int(i), "vector": vectors[i].tolist()} for i in range(start, min(n, start + 2000))])
        inserted = time.perf_counter() - began
        began = time.perf_counter()
        client.flush(name)
        client.release_collection(name)
        client.load_collection(name)
        built = time.perf_counter() - began
        for key, value in search_params:
            search = {"metric_type": "COSINE", "params": {key: value}}
            latencies, found = [], []
            client.search(name, data=[queries[0].tolist()], limit=K, search_params=search)  # warm
            for q in queries:
                began = time.perf_counter()
                result = client.search(name, data=[q.tolist()], limit=K, search_params=search)
                latencies.append((time.perf_counter() - began) * 1000)
                found.append([hit["id"] for hit in result[0]])
            recall = np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact.tolist(), strict=True)])
            began = time.perf_counter()
            client.search(name, data=queries.tolist(), limit=K, search_params=search)
            batch = (time.perf_counter() - began) * 1000 / len(queries)
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            print(
                f"{label:<22} {key + '=' + str(value):<11} {built:>8.1f} {p50:>7.2f} {p99:>7.2f} {p50 / b50:>7.2f} {recall:>9.3f} {batch:>10.2f}",
                flush=True,
            )
        print(f"{'':<22} (insert {inserted:.1f} s)")
        client.drop_collection(name)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()

    from twin_core import milvus_server
    from twin_core.embedding import Embedder

    embedder = Embedder()
    with tempfile.TemporaryDirectory() as folder:
        server = milvus_server.start(Path(folder) / "milvus", log_path=Path(folder) / "milvus.log")
        try:
            if not args.skip_quality:
                quality(server.uri, embedder)
            texts = sentences(demo_documents())
            began = time.perf_counter()
            base = embedder.encode_documents(texts)
            print(f"\nembedded {len(texts)} real sentences in {time.perf_counter() - began:.1f} s as the base of the index sets")
            rng = np.random.default_rng(7)
            for size in args.sizes:
                vectors = derived_vectors(base, size, rng)
                queries = derived_vectors(base, args.queries, rng)
                configs = CONFIGS if size <= 20_000 else CONFIGS[:1]  # rebuilding 100k per config takes minutes
                index_benchmark(server.uri, vectors, queries, configs)
        finally:
            milvus_server.stop(server.pid)


if __name__ == "__main__":
    main()
