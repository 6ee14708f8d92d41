"""Many twins behind one API: each request is answered from its author's chunks only.

Two authors' chunks share one collection (author is its partition key); the same questions go
to each twin by ``author`` and by ``model: "twin/<author>"``, and never see the other's writing.
"""

from __future__ import annotations

import httpx
import pytest

from tests.serving.conftest import serve
from tests.serving.stack import CHUNKS, chunk_rows, settings_for
from twin_core.vector_index import VectorIndex
from twin_serving.app import create_app

AUTHORS = ["Tamsin Vale", "Oskar Brandt"]
# The second author writes about the same topics (so retrieval alone cannot tell them apart),
# under URLs of their own.
OTHER = [(p, c, f"https://oskar.example/{i}", t, text) for i, (p, c, _, t, text) in enumerate(CHUNKS)]


@pytest.fixture(scope="module")
def two_authors(milvus_server, embedder):
    index = VectorIndex(milvus_server, collection="two_authors", dimension=embedder.dimension)
    index.drop()
    index.ensure_collection()
    index.upsert(chunk_rows(embedder, CHUNKS, AUTHORS[0]) + chunk_rows(embedder, OTHER, AUTHORS[1]))
    index.refresh()
    yield index
    index.drop()


@pytest.fixture(scope="module")
def api(tgi_url, milvus_server, embedder, two_authors, tokenizer):
    app = create_app(settings_for(tgi_url, milvus_server), embedder=embedder, index=two_authors,
                     tokenizer=tokenizer, authors=AUTHORS)
    with serve(app) as url:
        yield url


def _sources_by_author(reply: httpx.Response) -> set[str]:
    assert reply.status_code == 200, reply.text
    urls = {s["url"] for s in reply.json()["sources"] if s["kind"] == "past"}
    assert urls
    return {"Oskar Brandt" if u.startswith("https://oskar.example/") else "Tamsin Vale" for u in urls}


@pytest.mark.parametrize("author", AUTHORS)
def test_each_twin_reads_only_its_own_chunks(api, author):
    body = {"prompt": "Write about feature stores and boring ML", "author": author,
            "max_new_tokens": 4, "temperature": 0}
    assert _sources_by_author(httpx.post(api + "/v1/generate", json=body, timeout=120)) == {author}


def test_openai_model_names_the_twin(api):
    from openai import OpenAI

    client = OpenAI(base_url=api + "/v1", api_key="unused", max_retries=0)
    assert {m.id for m in client.models.list()} >= {f"twin/{a}" for a in AUTHORS}
    raw = client.chat.completions.with_raw_response.create(
        model="twin/Oskar Brandt", messages=[{"role": "user", "content": "Write about vector search"}],
        max_tokens=4, temperature=0,
    )
    sources = raw.parse().model_extra["sources"]
    past = [s["url"] for s in sources if s["kind"] == "past"]
    assert past and all(u.startswith("https://oskar.example/") for u in past)


def test_unknown_or_missing_author_is_a_sentence_with_the_remedy(api):
    unknown = httpx.post(api + "/v1/generate", json={"prompt": "hi there", "author": "Nobody"}, timeout=60)
    assert unknown.status_code == 404
    assert "no twin of 'Nobody'" in unknown.json()["error"] and "Tamsin Vale" in unknown.json()["error"]
    none = httpx.post(api + "/v1/generate", json={"prompt": "hi there"}, timeout=60)
    assert none.status_code == 404 and "name the author" in none.json()["error"]


def test_the_configured_adapter_answers_for_the_author_named_by_name_or_slug(monkeypatch):
    """Kubernetes sets TWIN_ENGINE_ADAPTERS by slug (Terraform knows slugs); a laptop may set it
    by name. An author with neither, on an engine that lists no adapter, gets the default model."""
    from types import SimpleNamespace

    from twin_core.settings import ServingSettings
    from twin_serving.service import TwinService

    monkeypatch.setenv("TWIN_ENGINE_ADAPTERS", '{"tamsin-vale": "twin-tamsin-vale", "Oskar Brandt": "oskar-v2"}')
    service = TwinService(ServingSettings(), retriever=None, generator=None, counter=None,
                          url_guard=lambda url: None, known_authors=AUTHORS)
    assert service.adapter(SimpleNamespace(author="Tamsin Vale")) == "twin-tamsin-vale"
    assert service.adapter(SimpleNamespace(author="Oskar Brandt")) == "oskar-v2"
    assert service.adapter(SimpleNamespace(author="Inês Duarte")) is None
    service._resident = {"twin-ines-duarte"}  # what the engine's /v1/models listed
    assert service.adapter(SimpleNamespace(author="Inês Duarte")) == "twin-ines-duarte"
