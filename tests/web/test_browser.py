"""The page in a real headless Chromium (Debian's), against a real Dagster webserver, a real
Milvus Lite collection, the tiny model behind the TGI-compatible server and the real API app:
log in, edit a profile, collect the demo data (some sources failing), follow the run across a
reload, ask, and read the evaluation explained; screenshots of each state.

One test on purpose: each step needs the state the previous one left, and Chromium starts once.
"""

from __future__ import annotations

import itertools
import re
import shutil
import time

import httpx
import yaml

from tests.fixtures.loopback import Fault, Reply
from tests.serving.conftest import bound_socket, serve
from tests.web.conftest import ARTIFACTS, closed_port, needs_chromium, screenshot
from tests.web.page_parts import ARTICLE, RECORD_ANSWER
from twin_core.settings import Settings

KEY = "page-test-key"

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
CHECK_QUERY = """query($path: [String!]!) { assetCheckExecutions(assetKey: {path: $path},
  checkName: "every_source_answered", limit: 1) { runId status evaluation { severity } } }"""

pytestmark = needs_chromium


AUTHOR_SLUG = "tamsin-vale"
LAUNCH_MUTATION = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }
"""


def _launch(dagster_url: str, job: str, partition: str, checks: list[tuple[str, str]] | None = None) -> str:
    """A run of ``job`` for one author, as an automation sensor submits it; ``checks``: run only
    these asset checks (the promotion gate alone)."""
    selector = {"repositoryLocationName": "llm_twin", "repositoryName": "__repository__", "jobName": job}
    if checks is not None:
        selector["assetSelection"] = []
        selector["assetCheckSelection"] = [{"assetKey": {"path": [asset]}, "name": name} for asset, name in checks]
    params = {"selector": selector, "runConfigData": {},
              "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]}}
    reply = httpx.post(f"{dagster_url}/graphql", json={"query": LAUNCH_MUTATION, "variables": {"params": params}},
                       timeout=30).json()
    launched = reply["data"]["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _stored(dagster_webserver, platform: str) -> list:
    """The author's documents of ``platform`` in the warehouse the Dagster code location writes."""
    from twin_core.authors import AuthorStore
    from twin_core.object_store import LocalFolderStore
    from twin_core.warehouse import DocumentWarehouse

    store = LocalFolderStore(Settings.of(home=dagster_webserver.twin_home).store_root)
    return list(DocumentWarehouse(AuthorStore(store, AUTHOR_SLUG)).documents(platform))


def _register_failed_candidate(dagster_webserver) -> None:
    """The author's newest twin, evaluated and failed (the card evaluation writes), in the
    store the Dagster code location reads."""
    from twin_core.object_store import LocalFolderStore
    from twin_core.registry import twin_registry
    from twin_core.training.staging import CANDIDATE

    model = dagster_webserver.twin_home / "candidate-model"
    model.mkdir(parents=True, exist_ok=True)
    (model / "config.json").write_text("{}")
    store = LocalFolderStore(Settings.of(home=dagster_webserver.twin_home).store_root)
    registry = twin_registry(store, AUTHOR_SLUG)
    version = registry.register(model, {"metrics": {"bits_per_byte": 1.31, "perplexity": 21.0}})
    registry.update_card(version, evaluation={"promotion": {"passed": False, "reasons": [
        "bits per byte 1.310 is not below the base's 1.305: the twin predicts the author's held-out writing no better"]}})
    registry.set_alias(CANDIDATE, version)


def _register_twin(settings: Settings, profiles, tmp_path) -> None:
    """The profile's author has a twin in production, with the evaluation card training writes
    (twin and base metrics)."""
    from twin_core.authors import author_slug
    from twin_core.object_store import LocalFolderStore
    from twin_core.registry import twin_registry

    model = tmp_path / "registered-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (author,) = yaml.safe_load(profiles.read_text())["authors"]
    registry = twin_registry(LocalFolderStore(settings.store_root), author_slug(author["name"]))
    version = registry.register(model, {"metrics": {"perplexity": 12.4, "style_similarity": 0.71, "examples": 24}})
    registry.update_card(version, evaluation={
        "baselines": {"base": {"perplexity": 19.8, "style_similarity": 0.52, "examples": 24}},
        "promotion": {"passed": True, "reasons": ["perplexity 12.400 beats base 19.800"]},
    })
    registry.set_alias("production", version)


def test_edit_profile_collect_and_ask(
    browser_page, serve_web, dagster_webserver, chunk_collection, tiny_model_dir, loopback, tmp_path
):
    from transformers import AutoTokenizer


    page = browser_page
    profiles = dagster_webserver.profiles
    index = chunk_collection(CHUNKS)
    article_url = loopback.route("/news/small-models", Reply(body=ARTICLE))
    # Sources for the collection: one slow page (the run lasts long enough to reload the page
    # during it), one that is gone and one on a port nothing listens on.
    slow_page = loopback.route("/blog/slow-post", Fault.slow(12, Reply(body=ARTICLE)))
    gone_page = loopback.route("/blog/gone", Reply(404, "<html><body>gone</body></html>"))
    refused_page = f"http://127.0.0.1:{closed_port()}/blog/post"
    # The model server's address is handed out before anything listens there: asking first
    # meets a model server that is down, then it comes up on that same address.
    model_socket = bound_socket()
    tgi_url = f"http://127.0.0.1:{model_socket.getsockname()[1]}"
    settings = Settings.of(
        profiles=profiles, home=tmp_path / "home", dagster_url=dagster_webserver.url, api_key=KEY,
        tgi_url=tgi_url, milvus_uri=index.uri, milvus_collection=index.collection,
        link_allowlist=["127.0.0.1"], top_k=4, per_query_k=4, query_variants=1,
    )
    _register_twin(settings, profiles, tmp_path)
    parts = {"embedder": chunk_collection.embedder, "tokenizer": AutoTokenizer.from_pretrained(tiny_model_dir)}
    try:
        _walk_through(page, serve_web, settings, parts, profiles, index, dagster_webserver, tiny_model_dir,
                      model_socket, article_url, [slow_page, gone_page, refused_page])
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(dagster_webserver.log, ARTIFACTS / "dagster-webserver.log")


def _walk_through(page, serve_web, settings, parts, profiles, index, dagster_webserver, tiny_model_dir,
                  model_socket, article_url, web_articles):
    from twin_serving.tgi_server import create_tgi_app

    slow_page, gone_page, refused_page = web_articles
    with serve_web(settings, **parts) as url:
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
        for platform in ("substack", "github", "web"):
            section = page.locator(f"details[data-platform={platform}]").first
            if section.get_attribute("open") is None:
                section.locator("summary").click()
        substack_url = page.get_by_label("Publication URL")
        substack_url.fill("boringml dot substack")
        repositories = page.get_by_label("Repositories")
        repositories.fill("")  # only the shipped exports: the demo data
        page.locator("details[data-platform=web]").get_by_label("Article links").fill(
            "\n".join([slow_page, gone_page, refused_page]))
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
        # Only what was cleared is gone: the file patterns the form also shows stay.
        assert "repositories" not in saved["github"] and saved["github"]["paths"]
        assert saved["substack"]["url"] == "https://boringml.substack.com"
        assert saved["web"]["articles"] == [slow_page, gone_page, refused_page]

        # Collect: a real run of collection_job in Dagster.
        page.get_by_role("button", name="Collect now").click()
        page.locator("#run-link").wait_for()
        run_url = page.locator("#run-link").get_attribute("href")
        assert re.fullmatch(rf"{re.escape(dagster_webserver.url)}/runs/[0-9a-f-]+", run_url)
        run_id = run_url.rsplit("/", 1)[1]

        # A reload follows the same run, and a second collection is refused while it runs.
        page.reload()
        page.locator("#run-link").wait_for()
        assert page.locator("#run-link").get_attribute("href") == run_url
        page.locator("#collection-message", has_text=re.compile("Waiting|Starting|Collecting")).wait_for()
        assert page.locator("#collect").is_disabled()
        second = page.evaluate("""async () => {
          const token = document.querySelector('meta[name="csrf-token"]').content;
          const r = await fetch("/web/api/collection", {method: "POST", headers: {"X-CSRF-Token": token}});
          return {status: r.status, body: await r.json()};
        }""")
        assert second["status"] == 409 and second["body"]["run_id"] == run_id
        assert "Only one collection runs at a time" in second["body"]["error"]
        screenshot(page.locator("#collection"), "web-collection-running")

        # The end: partial, in amber, each failed source with its reason.
        message = page.locator("#collection-message")
        message.locator("xpath=self::*[contains(., 'Done') or contains(., 'failed')]").wait_for(timeout=300_000)
        assert message.text_content().startswith("Done, but 2 sources could not be read"), message.text_content()
        assert message.get_attribute("data-kind") == "warning"
        failed = page.locator("#collection-failures li")
        assert sorted(failed.locator(".failed-source").all_text_contents()) == sorted([gone_page, refused_page])
        assert all(reason.strip(" —") for reason in failed.locator(".failed-reason").all_text_contents())
        assert "404" in failed.filter(has_text=gone_page).text_content()
        new = int(page.locator('#collection-counts dd[data-count="new"]').text_content())
        assert new > 0
        # The runs a collection sets off are listed (no Dagster daemon runs here, so no sensor
        # starts them: each says so).
        follow_on = page.locator("#follow-on li")
        assert follow_on.count() == 3
        assert [follow_on.nth(i).get_attribute("data-job") for i in range(3)] == [
            "features_job", "dataset_job", "continuous_training_job"]
        assert "not started yet" in follow_on.first.text_content()
        assert "Dagster daemon" in page.locator("#follow-on-hint").text_content()
        screenshot(page.locator("#collection"), "web-collection-partial")

        # Dagster itself carries the failures: the check on custom_articles warns for this run.
        reply = httpx.post(f"{dagster_webserver.url}/graphql", json={
            "query": CHECK_QUERY, "variables": {"path": ["custom_articles"]}}).json()
        (execution,) = reply["data"]["assetCheckExecutions"]
        assert execution["runId"] == run_id and execution["status"] == "FAILED"
        assert execution["evaluation"]["severity"] == "WARN"

        # The runs the sensors would start now (no daemon here: the test starts them as
        # Declarative Automation does, through Dagster): the dataset build, and the training
        # run's promotion gate on a candidate whose evaluation failed. The page, still polling,
        # lists each with its real state and link, and says the gate held the candidate back.
        _register_failed_candidate(dagster_webserver)
        dataset_run = _launch(dagster_webserver.url, "dataset_job", AUTHOR_SLUG)
        training_run = _launch(dagster_webserver.url, "continuous_training_job", AUTHOR_SLUG,
                               checks=[("model_evaluation", "beats_baseline")])
        training = page.locator('#follow-on li[data-job="continuous_training_job"]')
        dataset = page.locator('#follow-on li[data-job="dataset_job"]')
        for job in ("continuous_training_job", "dataset_job"):  # the list is redrawn on each poll
            page.wait_for_function(
                """(job) => ["SUCCESS", "FAILURE", "CANCELED"].includes(
                     document.querySelector(`#follow-on li[data-job="${job}"]`)?.dataset.status)""",
                arg=job, timeout=180_000)
        training.locator(".gate").wait_for()
        assert training.get_attribute("data-status") == "FAILURE"
        assert "failed" in training.locator(".run-state").text_content()
        gate = training.locator(".gate")
        assert gate.get_attribute("data-passed") == "false"
        assert "held back" in gate.text_content() and "production keeps the current model" in gate.text_content()
        assert training.locator("a").get_attribute("href") == f"{dagster_webserver.url}/runs/{training_run}"
        assert dataset.locator("a").get_attribute("href") == f"{dagster_webserver.url}/runs/{dataset_run}"
        assert dataset.get_attribute("data-status") in {"SUCCESS", "FAILURE"}
        assert dataset.locator(".run-state").text_content() in {"done", "failed"}
        features = page.locator('#follow-on li[data-job="features_job"]')
        assert features.get_attribute("data-status") == "NOT_LAUNCHED"
        assert "not started yet" in features.text_content()
        screenshot(page.locator("#collection"), "web-collection-follow-on")

        # A source whose identity changes: the Substack publication moves to its own domain. The
        # exported posts are the same posts, so collected again they are not new, and the
        # knowledge base does not hold them twice.
        documents = int(page.locator('#collection-counts dd[data-count="documents"]').text_content())
        page.get_by_label("Publication URL").fill("https://boring.ml")
        page.locator("details[data-platform=web]").get_by_label("Article links").fill("")  # collected already
        page.get_by_role("button", name="Save profiles").click()
        deadline = time.monotonic() + 30
        while yaml.safe_load(profiles.read_text())["authors"][0]["substack"]["url"] != "https://boring.ml":
            assert time.monotonic() < deadline, "the profile was not saved"
            time.sleep(0.2)
        page.get_by_role("button", name="Collect now").click()
        page.locator("#run-link").and_(page.locator(f'#run-link:not([href="{run_url}"])')).wait_for()
        page.locator("#collection-message", has_text="Done: every source answered").wait_for(timeout=300_000)
        counts = {label: int(page.locator(f'#collection-counts dd[data-count="{label}"]').text_content())
                  for label in ("new", "changed", "documents")}
        moved = _stored(dagster_webserver, "substack")
        assert moved and {d.url.split("/p/")[0] for d in moved} == {"https://boring.ml"}
        assert counts == {"new": 0, "changed": len(moved), "documents": documents}, counts

        # The status panel now knows the collection, and explains the evaluation numbers.
        page.locator("#status-collection", has_text=re.compile(r"\d")).wait_for()
        perplexity = page.locator('#metrics-table tr[data-metric="perplexity"]')
        assert "Lower is better" in perplexity.text_content() and "better than base" in perplexity.text_content()
        assert "19.800" in perplexity.text_content()
        style = page.locator('#metrics-table tr[data-metric="style_similarity"]')
        assert "Higher is better" in style.text_content() and "sounds more like them" in style.text_content()
        assert "nothing" in page.locator("#status-served").text_content()  # the model server is down
        screenshot(page.locator("#status"), "web-status")

        # Ask: bad input is caught next to its field; a dependency that is down is named.
        page.get_by_label("What should your twin write?").fill("Write a post about evaluation sets")
        page.get_by_label("Links to new material").fill("javascript:alert(1)")
        page.get_by_role("button", name="Write it").click()
        assert "Not a web address" in page.locator("#links-error").text_content()
        page.get_by_label("Links to new material").fill("")
        page.get_by_role("button", name="Write it").click()
        ask_error = page.locator('#ask-form [data-error-for="form"]')
        ask_error.wait_for()
        assert "The model server is not answering" in ask_error.text_content()

        # The model server comes up: the same question, with a LinkedIn post and one new link.
        model = create_tgi_app(lambda: (str(tiny_model_dir), "base/test"), reload_interval_s=0)
        with serve(model, sock=model_socket):
            page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
            page.get_by_label("Write it as").select_option("linkedin")
            page.get_by_label("Links to new material").fill(article_url)
            page.evaluate(RECORD_ANSWER)
            page.get_by_role("button", name="Write it").click()
            turn = page.locator("#conversation .turn").last
            turn.locator(".model", has_text="base/test").wait_for(timeout=120_000)
            turn.locator('.answer[aria-busy="false"]').wait_for()
            assert ask_error.text_content() == ""

            # The answer streamed in: the element grew piece by piece, then took the final text.
            answer = turn.locator(".answer").text_content()
            *streamed, final = page.evaluate("window.answerTexts")
            grown = [text for text in streamed if text]
            assert answer.strip() and final == answer
            assert len(grown) > 1, f"the answer appeared in one step: {grown}"
            assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(grown))

            # The sources: the new link first, then the past posts that fit the model's context,
            # best first; each a link, every title text.
            sources = turn.locator(".sources li")
            links = turn.locator(".sources a")
            hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
            assert sources.count() == links.count() >= 2
            assert hrefs[0] == article_url and links.first.text_content() == "Small models, big wins"
            assert hrefs[1] == CHUNKS[0][2] and links.nth(1).text_content() == XSS_TITLE
            assert set(hrefs[1:]) <= {chunk[2] for chunk in CHUNKS}
            assert turn.locator(".sources img").count() == 0
            kinds = turn.locator(".sources .source-kind").all_text_contents()
            assert kinds == ["your link"] + ["past writing"] * (len(kinds) - 1)
            assert turn.locator(".no-sources").is_hidden()
            with page.expect_popup() as opened:
                links.first.click()
            article = opened.value
            article.wait_for_load_state()
            assert article.title() == "Small models, big wins"
            article.close()

            # Copy to clipboard puts the answer there.
            turn.get_by_role("button", name="Copy to clipboard").click()
            turn.locator(".copy-status", has_text="Copied.").wait_for()
            assert page.evaluate("navigator.clipboard.readText()") == answer

            # The model server is up now: the status panel says what it serves.
            page.get_by_role("button", name="Refresh").click()
            page.locator("#status-served", has_text="base/test").wait_for()
            screenshot(page.locator("#ask"), "web-page-answer")
