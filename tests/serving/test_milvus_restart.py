"""After the Milvus Lite server restarts, its collections are on disk but released: the CLI, the
API and the indexer load them again and searches go through (issue: "is in state released")."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.serving.conftest import serve
from tests.serving.stack import fill_index, settings_for
from twin_core import milvus_server as lite
from twin_core.vector_index import VectorIndex, collection_name
from twin_serving.retriever import FAIL_FAST_S


@pytest.fixture
def restartable_milvus(tmp_path):
    """A Milvus Lite server of this test's own, and a function that restarts it in place."""
    data, log = tmp_path / "milvus", tmp_path / "milvus.log"
    state = {"server": lite.start(data, log_path=log)}

    def stop():
        assert lite.stop(state["server"].pid)

    def start():
        state["server"] = lite.start(data, port=state["server"].port, log_path=log)

    def restart():
        stop()
        start()

    restart.stop, restart.start = stop, start
    yield state["server"].uri, restart
    lite.stop(state["server"].pid)


def _released(uri: str, collection: str) -> bool:
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri)
    try:
        return "NotLoad" in str(client.get_load_state(collection)["state"])
    finally:
        client.close()


def test_search_and_count_load_a_collection_released_by_a_restart(restartable_milvus, embedder):
    uri, restart = restartable_milvus
    name = collection_name(embedder.model_name, embedder.dimension)
    before = fill_index(uri, name, embedder)  # a client opened before the restart, as the API's
    query = embedder.encode_queries(["data pipelines with lineage"])
    expected = before.search(query, k=1)[0][0].url
    restart()
    assert _released(uri, name), "the restart should leave the collection released"

    fresh = VectorIndex(uri, collection=name, dimension=embedder.dimension)
    assert fresh.count() == 6  # counting loads it
    restart()
    assert fresh.search(query, k=1)[0][0].url == expected
    restart()
    assert before.search(query, k=1)[0][0].url == expected  # the old client reconnects
    restart()
    assert len(fresh.get([fresh.search(query, k=1)[0][0].id])) == 1
    restart()
    fresh.ensure_collection()  # the indexer's path
    assert not _released(uri, name)
    fresh.close()
    before.close()


def test_twin_search_after_a_restart(restartable_milvus, embedder, monkeypatch, capsys):
    from twin_cli.main import main

    uri, restart = restartable_milvus
    fill_index(uri, collection_name(embedder.model_name, embedder.dimension), embedder).close()
    restart()
    monkeypatch.setenv("TWIN_MILVUS_URI", uri)
    monkeypatch.setenv("TWIN_EMBEDDING_MODEL", embedder.model_name)
    assert main(["search", "data pipelines with lineage", "--k", "1"]) == 0
    assert "github.com/tamsin/pipelines" in capsys.readouterr().out


def test_api_searches_and_is_ready_after_a_restart(restartable_milvus, embedder, tgi_url, tokenizer):
    from twin_serving.app import create_app

    uri, restart = restartable_milvus
    fill_index(uri, "restart_api_chunks", embedder).close()
    settings = settings_for(tgi_url, uri, milvus_collection="restart_api_chunks")
    app = create_app(settings, embedder=embedder, tokenizer=tokenizer, authors=["Tamsin Vale"])
    body = {"prompt": "data pipelines with lineage", "max_new_tokens": 4, "temperature": 0}
    with serve(app) as url:
        assert httpx.post(url + "/v1/generate", json=body, timeout=120).status_code == 200
        restart()
        ready = httpx.get(url + "/ready", timeout=60)
        assert ready.status_code == 200, ready.text
        reply = httpx.post(url + "/v1/generate", json=body, timeout=120)
        assert reply.status_code == 200, reply.text
        assert any("pipelines" in s["url"] for s in reply.json()["sources"])

        restart.stop()  # down: the truth from /ready, and a sentence with the remedy
        ready = httpx.get(url + "/ready", timeout=60)
        assert ready.status_code == 503 and not ready.json()["checks"]["milvus"]["ok"]
        assert "twin milvus start" in ready.json()["checks"]["milvus"]["detail"]
        # Fail fast: within FAIL_FAST_S of a failed try, requests answer from that failure and
        # do not ask Milvus again (each would otherwise hold a worker through a connect).
        retriever = app.state.service.retriever
        tries = []
        guarded = retriever._guarded
        retriever._guarded = lambda work: (tries.append(1), guarded(work))[1]
        for _ in range(3):
            down = httpx.post(url + "/v1/generate", json=body, timeout=60)
            assert down.status_code == 503 and down.json()["dependency"] == "milvus"
            assert "twin milvus start" in down.json()["error"], down.text
            assert "Exception" not in down.json()["error"]
        assert len(tries) <= 1, f"{len(tries)} tries of Milvus for 3 requests inside the fail-fast window"
        retriever._guarded = guarded
        restart.start()
        assert httpx.get(url + "/ready", timeout=60).status_code == 200  # a real try, no waiting
        time.sleep(FAIL_FAST_S)
        assert httpx.post(url + "/v1/generate", json=body, timeout=120).status_code == 200
