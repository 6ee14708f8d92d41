"""The conversation in a real headless Chromium, against the real API app, a Milvus Lite
collection and the tiny model behind the TGI-compatible server: the live status line, the prompt
counter from the model's real budget, plain errors on the field they concern, Ctrl+Enter, link
warnings next to Links, answers kept per author across a reload, Stop (the model server stops
generating) and Regenerate."""

from __future__ import annotations

import threading

import httpx

from tests.fixtures.loopback import Reply
from tests.serving.conftest import bound_socket, serve
from tests.web.conftest import closed_port, needs_chromium, screenshot
from tests.web.page_parts import ARTICLE, RECORD_ANSWER
from twin_core.settings import Settings
from twin_serving.web.plain_errors import MODEL_DOWN

pytestmark = needs_chromium

LINKEDIN = "https://www.linkedin.com/feed/update/"
CHUNKS = [
    ("linkedin", "post", f"{LINKEDIN}21", "Evaluation sets",
     "An evaluation set is a promise: fifty real questions beat five thousand synthetic ones."),
    ("linkedin", "post", f"{LINKEDIN}22", "Shipping small models",
     "Small models that ship beat large models that never leave the notebook."),
]
LIBRARY_WORDS = ("ClientConnectorError", "String should have", "Traceback", "tokens; the model takes")


class HeldGeneration:
    """Holds the model server's next generation, once it has sent visible text, until it is
    cancelled, so Stop is pressed while it is surely still writing. A random model's first
    tokens may be special or empty (a partial character), so a token count is not enough."""

    def __init__(self, engine):
        self.engine, self.real = engine, engine.generate
        self.cancelled: bool | None = None
        self.finished = threading.Event()

    def __enter__(self):
        def generate(prompt, params, on_token=None, cancelled=None, **kwargs):
            shown: list[str] = []

            def forward(token):
                on_token(token)
                if not token.special:
                    shown.append(token.text)
                if "".join(shown) and cancelled is not None:
                    cancelled.wait(60)

            try:
                return self.real(prompt, params, forward if on_token else None, cancelled, **kwargs)
            finally:
                self.cancelled = cancelled is not None and cancelled.is_set()
                self.finished.set()

        self.engine.generate = generate
        return self

    def __exit__(self, *exc):
        self.engine.generate = self.real


def _budget(tgi_url: str, answer_tokens: int = 256) -> int:
    info = httpx.get(f"{tgi_url}/info").json()
    limits = [info.get("max_input_tokens"), info["max_total_tokens"] - answer_tokens]
    return min(v for v in limits if v)


def _turns(page):
    return page.locator("#conversation .turn")


def _wait_answered(page, count: int) -> None:
    page.locator("#conversation .turn").nth(count - 1).locator('.answer[aria-busy="false"]').wait_for(timeout=120_000)
    page.locator("#ask-button:enabled").wait_for(timeout=120_000)


def test_conversation(browser_page, serve_web, profile_dir, chunk_collection, tiny_model_dir, loopback):
    from transformers import AutoTokenizer

    from twin_serving.tgi_server import create_tgi_app

    page = browser_page
    index = chunk_collection(CHUNKS)
    article_url = loopback.route("/news/small-models", Reply(body=ARTICLE))
    missing_url = loopback.route("/news/gone", Reply(404, "<html><body>gone</body></html>"))
    model_socket = bound_socket()  # the model server's address, before anything listens there
    tgi_url = f"http://127.0.0.1:{model_socket.getsockname()[1]}"
    settings = Settings.of(
        profiles=profile_dir / "twin.yaml", dagster_url=f"http://127.0.0.1:{closed_port()}",
        tgi_url=tgi_url, milvus_uri=index.uri, milvus_collection=index.collection,
        link_allowlist=["127.0.0.1"], top_k=2, per_query_k=2, query_variants=1,
    )
    parts = {"embedder": chunk_collection.embedder, "tokenizer": AutoTokenizer.from_pretrained(tiny_model_dir)}
    with serve_web(settings, **parts) as url:
        page.goto(f"{url}/web")
        form_error = page.locator('#ask-form [data-error-for="form"]')

        # The live line: Milvus answers, the model server and Dagster do not.
        page.locator('#live [data-system="milvus"][data-ok="true"]').wait_for()
        page.locator('#live [data-system="tgi"][data-ok="false"]').wait_for()
        page.locator('#live [data-system="dagster"][data-ok="false"]').wait_for()
        assert page.locator('#live [data-system="tgi"]').text_content() == "Model server down"
        # The one author in the profile is whose voice the twin writes in.
        assert page.locator("#author").input_value() == "Tamsin Vale"

        # The model server is down: a sentence with the remedy, and no empty answer left behind.
        prompt = page.get_by_label("What should your twin write?")
        prompt.fill("Write a post about evaluation sets")
        page.locator("#prompt-counter", has_text="token budget unknown").wait_for()
        prompt.press("Control+Enter")
        form_error.wait_for()
        assert form_error.text_content() == MODEL_DOWN
        assert _turns(page).count() == 0

        model = create_tgi_app(lambda: (str(tiny_model_dir), "base/test"), reload_interval_s=0)
        with serve(model, sock=model_socket):
            page.get_by_role("button", name="Refresh").click()
            page.locator('#live [data-system="tgi"][data-ok="true"]').wait_for()

            # The counter counts with the model's tokenizer against its real budget.
            budget = _budget(tgi_url)
            prompt.fill("Write a post about evaluation sets.")
            page.locator("#prompt-counter", has_text=f" of {budget:,} tokens").wait_for()

            # A paste over the limit is refused with what to do, and nothing is cut.
            long_paste = "evaluation " * 546  # 6,006 characters
            prompt.fill(long_paste)
            page.locator("#prompt-counter", has_text="the twin takes at most 4,000").wait_for()
            page.get_by_role("button", name="Write it").click()
            assert "Shorten it by" in page.locator("#prompt-error").text_content()
            assert prompt.input_value() == long_paste
            assert _turns(page).count() == 0

            # Ctrl+Enter sends; the answer streams in; a link that is gone is named by Links.
            prompt.fill("Write a post about evaluation sets")
            page.get_by_label("Links to new material").fill(f"{article_url}\n{missing_url}")
            page.evaluate(RECORD_ANSWER)
            page.get_by_label("Links to new material").press("Control+Enter")
            _wait_answered(page, 1)
            first = _turns(page).first
            answer = first.locator(".answer").text_content()
            assert answer.strip() and first.locator(".model").text_content() == "base/test"
            grown = [t for t in page.evaluate("window.answerTexts") if t]
            assert len(set(grown)) > 1, "the answer appeared in one step"
            warning = page.locator("#links-warnings li")
            assert warning.count() == 1 and missing_url in warning.text_content() and "404" in warning.text_content()
            hrefs = first.locator(".sources a").evaluate_all("links => links.map(a => a.href)")
            assert hrefs[0] == article_url and missing_url not in hrefs
            assert page.evaluate("document.activeElement.id") in {"prompt", "links"}

            # A second question keeps the first answer.
            page.get_by_label("Links to new material").fill("")
            prompt.fill("Write a post about shipping small models")
            prompt.press("Control+Enter")
            _wait_answered(page, 2)
            assert _turns(page).count() == 2 and _turns(page).first.locator(".answer").text_content() == answer

            # A link the server must not fetch is refused next to the Links field; nothing is lost.
            page.get_by_label("Links to new material").fill("http://10.1.2.3/internal")
            prompt.press("Control+Enter")
            page.locator("#links-error", has_text="This link cannot be used").wait_for()
            assert _turns(page).count() == 2 and form_error.text_content() == ""
            page.get_by_label("Links to new material").fill("")

            # A reload keeps the conversation (in this browser, per author).
            page.reload()
            _turns(page).nth(1).wait_for()
            assert _turns(page).count() == 2 and _turns(page).first.locator(".answer").text_content() == answer

            # Stop: the stream closes and the model server stops generating.
            with HeldGeneration(model.state.engine) as held:
                prompt.fill("Write a long post about evaluation sets")
                prompt.press("Control+Enter")
                third = _turns(page).nth(2)
                third.locator(".answer", has_text="").wait_for()
                page.get_by_role("button", name="Stop").wait_for()
                page.wait_for_function(
                    "() => document.querySelector('#conversation .turn:last-child .answer').textContent.length > 0",
                    timeout=120_000,
                )
                page.get_by_role("button", name="Stop").click()
                third.locator(".turn-error", has_text="Stopped").wait_for()
                assert held.finished.wait(60), "the model server is still generating"
                assert held.cancelled, "the model server was never told to stop"
            assert page.get_by_role("button", name="Stop").is_hidden()

            # Regenerate writes that answer again, in place.
            third.get_by_role("button", name="Regenerate").click()
            _wait_answered(page, 3)
            assert third.locator(".turn-error").text_content() == ""
            assert third.locator(".answer").text_content().strip()
            assert _turns(page).count() == 3
            assert _turns(page).nth(1).get_by_role("button", name="Regenerate").is_hidden()

            text = page.locator("body").text_content()
            assert not any(word in text for word in LIBRARY_WORDS), text
            screenshot(page.locator("#ask"), "web-conversation")
            page.evaluate("window.scrollTo(0, 0)")
            screenshot(page, "web-phone", full_page=True)
