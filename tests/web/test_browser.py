"""The page in a real headless Chromium (Debian's), against a real Dagster webserver, a real
Milvus Lite collection, the tiny model behind the TGI-compatible server and the real API app:
log in, edit a profile, collect the demo data, ask, and keep a screenshot of the answer.

One test on purpose: each step needs the state the previous one left, and Chromium starts once.
"""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.fixtures.loopback import Reply
from tests.serving.conftest import bound_socket, serve
from tests.web.conftest import REPO
from twin_serving.settings import ServingSettings
from twin_serving.web.settings import WebSettings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
KEY = "page-test-key"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Past writing in the collection the API searches. The title of the post that matches the
# question best is HTML from the web: it must be shown as text.
XSS_TITLE = "Evals <img src=x onerror=alert(1)> that matter"
LINKEDIN = "https://www.linkedin.com/feed/update/"
CHUNKS = [
    ("linkedin", "post", f"{LINKEDIN}11", XSS_TITLE,
     "An evaluation set is a promise: fifty real questions beat five thousand synthetic ones."),
    ("linkedin", "post", f"{LINKEDIN}12", "Shipping small models",
     "Small models that ship beat large models that never leave the notebook."),
    ("linkedin", "post", f"{LINKEDIN}13", "Clear logs",
     "Our on-call week taught me that clear logs save more time than clever dashboards."),
]
# Short texts: the tiny model takes 1024 tokens in all, 256 of them for the answer.
ARTICLE = """<html><head><title>Small models, big wins</title></head><body><article>
<h1>Small models, big wins</h1>
<p>Distilled models cut serving cost by 80 percent and still pass our evaluation sets.</p>
</article></body></html>"""
# Records every text the answer element shows, in order, from inside the page (the page appends
# each streamed piece, then sets the final text, which is the model server's own decoding).
RECORD_ANSWER = """() => {
  const answer = document.querySelector("#answer");
  window.answerTexts = [];
  new MutationObserver(() => window.answerTexts.push(answer.textContent))
    .observe(answer, { childList: true, characterData: true, subtree: true });
}"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium; .ci/run does it)"
)


@pytest.fixture
def browser_page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 412, "height": 915},  # a phone
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page
        finally:
            context.close()
        assert errors == [], f"script errors on the page: {errors}"


def test_edit_profile_collect_and_ask(
    browser_page, serve_web, dagster_webserver, chunk_collection, tiny_model_dir, loopback
):
    from transformers import AutoTokenizer

    from twin_serving.tgi_server import create_tgi_app

    page = browser_page
    profiles = dagster_webserver.profiles
    settings = WebSettings(profiles=profiles, dagster_url=dagster_webserver.url)
    index = chunk_collection(CHUNKS)
    article_url = loopback.route("/news/small-models", Reply(body=ARTICLE))
    # The model server's address is handed out before anything listens there: asking first
    # meets a model server that is down, then it comes up on that same address.
    model_socket = bound_socket()
    tgi_url = f"http://127.0.0.1:{model_socket.getsockname()[1]}"
    serving = ServingSettings(
        api_key=KEY, tgi_url=tgi_url, milvus_uri=index.uri, milvus_collection=index.collection,
        link_allowlist=["127.0.0.1"], top_k=4, per_query_k=4, query_variants=1,
    )
    parts = {"embedder": chunk_collection.embedder, "tokenizer": AutoTokenizer.from_pretrained(tiny_model_dir)}
    with serve_web(settings, serving, **parts) as url:
        # Log in: the key goes into a form once, never into the page or its address.
        page.goto(f"{url}/web")
        assert page.url.endswith("/web/login")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{url}/web")
        assert KEY not in page.content() and KEY not in page.url

        # The status panel counts the chunks in the collection answers search.
        page.locator("#status-kb", has_text=re.compile(r"\d")).wait_for()
        assert index.count() == len(CHUNKS)
        assert page.locator("#status-kb").text_content() == f"{len(CHUNKS)} chunks of past writing"

        # Edit the profile: a bad URL is shown next to its field and nothing is written.
        before = profiles.read_bytes()
        for platform in ("substack", "github"):
            section = page.locator(f"details[data-platform={platform}]").first
            if section.get_attribute("open") is None:
                section.locator("summary").click()
        substack_url = page.get_by_label("Publication URL")
        substack_url.fill("boringml dot substack")
        repositories = page.get_by_label("Repositories")
        repositories.fill("")  # only the shipped exports: the demo data
        page.get_by_role("button", name="Save profiles").click()
        error = page.locator('[data-field="authors.0.substack.url"] .field-error')
        error.wait_for()
        assert "malformed URL" in error.text_content()
        assert substack_url.get_attribute("aria-invalid") == "true"
        assert profiles.read_bytes() == before
        assert repositories.input_value() == ""  # what was typed is still there

        substack_url.fill("https://boringml.substack.com")
        page.get_by_role("button", name="Save profiles").click()
        page.get_by_text("Saved.").wait_for()
        saved = yaml.safe_load(profiles.read_text())["authors"][0]
        assert "github" not in saved and saved["substack"]["url"] == "https://boringml.substack.com"

        # Collect: a real run of collection_job in Dagster, followed to the end.
        page.get_by_role("button", name="Collect now").click()
        page.locator("#collection-message", has_text=re.compile("Done|failed|canceled")).wait_for(timeout=300_000)
        assert page.locator("#collection-message").text_content().startswith("Done.")
        new = int(page.locator('#collection-counts dd[data-count="new"]').text_content())
        assert new > 0
        link = page.get_by_role("link", name="Open this run in Dagster")
        assert re.fullmatch(rf"{re.escape(dagster_webserver.url)}/runs/[0-9a-f-]+", link.get_attribute("href"))

        # The status panel now knows the collection.
        page.locator("#status-collection", has_text=re.compile(r"\d")).wait_for()

        # Ask: bad input is caught next to its field; a dependency that is down is named.
        page.get_by_label("What should your twin write?").fill("Write a post about evaluation sets")
        page.get_by_label("Links to new material").fill("javascript:alert(1)")
        page.get_by_role("button", name="Write it").click()
        assert "Not a web address" in page.locator("#links-error").text_content()
        page.get_by_label("Links to new material").fill("")
        page.get_by_role("button", name="Write it").click()
        ask_error = page.locator('#ask-form [data-error-for="form"]')
        ask_error.wait_for()
        assert f"TGI at {tgi_url} is not reachable" in ask_error.text_content()

        # The model server comes up: the same question, with a LinkedIn post and one new link.
        model = create_tgi_app(lambda: (str(tiny_model_dir), "base/test"), reload_interval_s=0)
        with serve(model, sock=model_socket):
            page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
            page.get_by_label("Write it as").select_option("linkedin")
            page.get_by_label("Links to new material").fill(article_url)
            page.evaluate(RECORD_ANSWER)
            page.get_by_role("button", name="Write it").click()
            page.locator("#answer-model", has_text="base/test").wait_for(timeout=120_000)
            page.locator('#answer[aria-busy="false"]').wait_for()
            assert ask_error.text_content() == ""

            # The answer streamed in: the element grew piece by piece, then took the final text.
            answer = page.locator("#answer").text_content()
            *streamed, final = page.evaluate("window.answerTexts")
            grown = [text for text in streamed if text]
            assert answer.strip() and final == answer
            assert len(grown) > 1, f"the answer appeared in one step: {grown}"
            assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(grown))

            # The sources: the new link first, then the past posts that fit the model's context,
            # best first; each a link, every title text.
            sources = page.locator("#sources li")
            links = page.locator("#sources a")
            hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
            assert sources.count() == links.count() >= 2
            assert hrefs[0] == article_url and links.first.text_content() == "Small models, big wins"
            assert hrefs[1] == CHUNKS[0][2] and links.nth(1).text_content() == XSS_TITLE
            assert set(hrefs[1:]) <= {chunk[2] for chunk in CHUNKS}
            assert page.locator("#sources img").count() == 0
            kinds = page.locator("#sources .source-kind").all_text_contents()
            assert kinds == ["your link"] + ["past writing"] * (len(kinds) - 1)
            assert page.locator("#no-sources").is_hidden()
            with page.expect_popup() as opened:
                links.first.click()
            article = opened.value
            article.wait_for_load_state()
            assert article.title() == "Small models, big wins"
            article.close()

            # Copy to clipboard puts the answer there.
            page.get_by_role("button", name="Copy to clipboard").click()
            page.locator("#copy-status", has_text="Copied.").wait_for()
            assert page.evaluate("navigator.clipboard.readText()") == answer

            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("#ask").screenshot(path=ARTIFACTS / "web-page-answer.png")
            page.screenshot(path=ARTIFACTS / "web-page-phone.png", full_page=True)
    shutil.copy(dagster_webserver.log, ARTIFACTS / "dagster-webserver.log")
