"""Stop on the page closes the answer's stream; the API then cancels its request to the model
server, and the model server stops generating. Real parts: the API app, the TGI-compatible server
on the tiny model, a Milvus Lite collection; only the engine's token callback is watched."""

from __future__ import annotations

import json
import re
import threading

import httpx

from tests.serving.conftest import serve
from twin_core.settings import Settings

CHUNKS = [("linkedin", "post", "https://www.linkedin.com/feed/update/1", "Evals",
           "An evaluation set is a promise: fifty real questions beat five thousand synthetic ones.")]
MAX_NEW_TOKENS = 200


def _watch(engine) -> list[dict]:
    """Record each generation; from its second token on, hold it until it is cancelled (at most
    60 s), so it cannot end by itself before the client has gone."""
    generations: list[dict] = []
    real = engine.generate

    def generate(prompt, params, on_token=None, cancelled=None, **kwargs):
        record = {"tokens": 0, "cancelled": None, "finished": threading.Event()}
        generations.append(record)

        def forward(token):
            on_token(token)
            record["tokens"] += 1
            if record["tokens"] >= 2 and cancelled is not None:
                cancelled.wait(60)

        try:
            return real(prompt, params, forward if on_token else None, cancelled, **kwargs)
        finally:
            record["cancelled"] = cancelled is not None and cancelled.is_set()
            record["finished"].set()

    engine.generate = generate
    return generations


def test_closing_the_stream_stops_the_model_server_generating(
    serve_web, profile_dir, chunk_collection, tiny_model_dir
):
    from transformers import AutoTokenizer

    from twin_serving.tgi_server import create_tgi_app

    index = chunk_collection(CHUNKS)
    model = create_tgi_app(lambda: (str(tiny_model_dir), "base/test"), reload_interval_s=0)
    generations = _watch(model.state.engine)
    with serve(model) as tgi_url:
        settings = Settings.of(
            profiles=profile_dir / "twin.yaml", tgi_url=tgi_url, milvus_uri=index.uri,
            milvus_collection=index.collection, top_k=1, per_query_k=1, query_variants=1,
        )
        parts = {"embedder": chunk_collection.embedder,
                 "tokenizer": AutoTokenizer.from_pretrained(tiny_model_dir)}
        with serve_web(settings, **parts) as url, httpx.Client(base_url=url, timeout=60) as client:
            page = client.get("/web").text
            token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
            ask = {"prompt": "Write a post about evaluation sets", "platform": "linkedin",
                   "max_new_tokens": MAX_NEW_TOKENS, "temperature": 0}
            with client.stream("POST", "/web/api/ask", json=ask, headers={"X-CSRF-Token": token}) as answer:
                assert answer.status_code == 200
                events = answer.iter_lines()
                for line in events:
                    if line == "event: token":
                        assert json.loads(next(events).removeprefix("data: "))["text"] is not None
                        break
                # Leaving the block closes the connection: what the page's Stop does.
            (generation,) = generations
            assert generation["finished"].wait(60), "the model server is still generating"
    assert generation["cancelled"], "the model server was never told to stop"
    assert generation["tokens"] < MAX_NEW_TOKENS
