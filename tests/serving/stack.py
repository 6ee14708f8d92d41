"""The serving stack for API tests: real Milvus Lite server, real embedder, real tiny model
behind the TGI-compatible server, the API on loopback."""

from __future__ import annotations

import hashlib

from twin_serving.settings import ServingSettings

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
FIELDS = ["document_id", "author", "platform", "category", "url", "title", "position", "text"]


def fill_collection(uri: str, collection: str, embedder) -> None:
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri=uri)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    for name in FIELDS:
        if name == "position":
            schema.add_field(name, DataType.INT64)
        else:
            schema.add_field(name, DataType.VARCHAR, max_length=4096)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=embedder.dimension)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection(collection, schema=schema, index_params=index)
    texts = [c[4] for c in CHUNKS]
    vectors = embedder.encode_documents(texts)
    rows = []
    for (platform, category, url, title, text), vector in zip(CHUNKS, vectors, strict=True):
        rows.append({
            "id": hashlib.sha256(text.encode()).hexdigest()[:32],
            "document_id": hashlib.sha256(url.encode()).hexdigest()[:32],
            "author": "Tamsin Vale", "platform": platform, "category": category, "url": url,
            "title": title, "position": 0, "text": text, "vector": [float(x) for x in vector],
        })
    client.upsert(collection, rows)
    client.load_collection(collection)
    client.close()


class MilvusChunkIndex:
    """Batched filtered search over the chunk collection with pymilvus' ``MilvusClient``."""

    def __init__(self, uri: str, collection: str):
        from pymilvus import MilvusClient

        self.client = MilvusClient(uri=uri, timeout=10)
        self.collection = collection

    def search(self, query_vectors, query_texts, k: int, filter: str = ""):
        return self.client.search(
            self.collection, data=[list(v) for v in query_vectors], filter=filter, limit=k,
            output_fields=[*FIELDS, "vector"], timeout=10,
        )

    def count(self) -> int:
        return len(self.client.query(self.collection, filter="", output_fields=["id"], limit=1000))


def settings_for(tgi_url: str, milvus_uri: str = "", **extra) -> ServingSettings:
    values = {
        "tgi_url": tgi_url, "milvus_uri": milvus_uri, "link_allowlist": ["127.0.0.1"],
        "per_query_k": 4, "top_k": 3, "query_variants": 3, "default_max_new_tokens": 8,
    }
    values.update(extra)
    return ServingSettings(**values)
