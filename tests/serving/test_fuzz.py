"""Property-based fuzzing of the API from its own OpenAPI schema: no input gives a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.serving.conftest import serve
from tests.serving.stack import settings_for
from twin_serving.app import create_app
from twin_serving.ssrf import BlockedURL


def refuse_all_links(url: str) -> None:
    # Generated links may name public hosts; this machine must not contact them.
    raise BlockedURL("no outside network during fuzzing")


@pytest.fixture(scope="module")
def fuzz_target(tgi_url, milvus_server, embedder, chunk_index, tokenizer):
    app = create_app(settings_for(tgi_url, milvus_server), embedder=embedder, index=chunk_index,
                     tokenizer=tokenizer, authors=["Tamsin Vale"])
    with serve(app) as url:
        app.state.service.url_guard = refuse_all_links
        yield url, app.openapi()


def test_no_server_errors(fuzz_target):
    url, spec = fuzz_target
    schema = schemathesis.openapi.from_dict(spec)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith(("/v1/", "/health", "/ready"))]
    assert {op.path for op in operations} >= {"/v1/generate", "/v1/chat/completions", "/health"}
    failures = []
    for operation in operations:
        # Only operations with a body have something to make invalid.
        modes = [GenerationMode.POSITIVE]
        if operation.method.upper() == "POST":
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "6")), deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call(base_url=url, timeout=120)
                if response.status_code >= 500:
                    failures.append((case.method, case.path, response.status_code,
                                     response.text[:300], case.body))
                else:
                    content_type = response.headers.get("content-type") or [""]
                    assert content_type[0].startswith(("application/json", "text/event-stream"))

            run()
    assert failures == [], "\n".join(map(repr, failures))
