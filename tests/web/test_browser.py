"""The page in a real headless Chromium (Debian's), against a real Dagster webserver and the
real API app: log in, edit a profile, collect the demo data, ask, and keep a screenshot.

One test on purpose: each step needs the state the previous one left.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.web.conftest import REPO, closed_port
from twin_serving.settings import ServingSettings
from twin_serving.web.settings import WebSettings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
KEY = "page-test-key"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

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


def test_edit_profile_collect_and_see_the_run(browser_page, serve_web, dagster_webserver):
    page = browser_page
    profiles = dagster_webserver.profiles
    settings = WebSettings(profiles=profiles, dagster_url=dagster_webserver.url)
    # No model server yet: asking must say so next to the form (the answer path is the API's).
    tgi_url = f"http://127.0.0.1:{closed_port()}"
    with serve_web(settings, ServingSettings(api_key=KEY, tgi_url=tgi_url)) as url:
        # Log in: the key goes into a form once, never into the page or its address.
        page.goto(f"{url}/web")
        assert page.url.endswith("/web/login")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{url}/web")
        assert KEY not in page.content() and KEY not in page.url

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

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "web-page-phone.png", full_page=True)
        shutil.copy(dagster_webserver.log, ARTIFACTS / "dagster-webserver.log")
