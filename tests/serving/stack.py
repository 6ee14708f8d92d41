"""The serving stack for API tests: real Milvus Lite server, real embedder, real tiny model
behind the TGI-compatible server, the API on loopback."""

from __future__ import annotations

import hashlib

from twin_core.settings import Settings

CHUNKS = [
    ("linkedin", "post", "https://www.linkedin.com/feed/update/1", "Shipping small models",
     "Small models that ship beat large models that never leave the notebook. Measure latency first."),
    ("linkedin", "post", "https://www.linkedin.com/feed/update/2", "On-call lessons",
     "Our on-call week taught me that clear logs save more time than clever dashboards."),
    ("medium", "article", "https://medium.com/@tamsin/feature-stores", "Feature stores without the hype",
     "A feature store is a contract between training and serving: same features, same code, same time."),
    ("medium", "article", "https://medium.com/@tamsin/vector-search", "Vector search in practice",
     "Vector search needs filters: author, platform and date narrow the candidates before ranking."),
    ("substack", "post", "https://boringml.substack.com/p/boring", "Boring ML wins",
     "Boring machine learning wins: retrain weekly, monitor drift, and keep a rollback button."),
    ("github", "repository", "https://github.com/tamsin/pipelines", "pipelines",
     "Dagster assets for data pipelines with lineage from raw documents to trained models."),
]


def chunk_rows(embedder, chunks=CHUNKS, author: str = "Tamsin Vale") -> list[dict]:
    """Index rows for (platform, category, url, title, text) chunks, embedded for real."""
    vectors = embedder.encode_documents([c[4] for c in chunks])
    return [
        {
            "id": hashlib.sha256(f"{author}\n{text}".encode()).hexdigest()[:32],
            "document_id": hashlib.sha256(f"{author}\n{url}".encode()).hexdigest()[:32],
            "author": author, "platform": platform, "category": category, "url": url,
            "title": title, "position": 0, "text": text, "vector": vector,
        }
        for (platform, category, url, title, text), vector in zip(chunks, vectors, strict=True)
    ]


def fill_index(uri: str, collection: str, embedder, chunks=CHUNKS):
    """A chunk collection of its own (other test areas share the Milvus server)."""
    from twin_core.vector_index import VectorIndex

    index = VectorIndex(uri, collection=collection, dimension=embedder.dimension)
    index.ensure_collection()
    index.upsert(chunk_rows(embedder, chunks))
    index.refresh()
    return index


def settings_for(tgi_url: str, milvus_uri: str = "", **extra) -> Settings:
    values = {
        "tgi_url": tgi_url, "milvus_uri": milvus_uri, "link_allowlist": ["127.0.0.1"],
        "per_query_k": 4, "top_k": 3, "query_variants": 3, "default_max_new_tokens": 8,
    }
    values.update(extra)
    return Settings.of(**values)
