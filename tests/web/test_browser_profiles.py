"""Profile editing in a real headless Chromium: saving keeps the file's comments and every
setting (GitHub ``paths`` included, and editable), and removing an author asks first and can be
undone until saved."""

from __future__ import annotations

import yaml

from tests.web.conftest import closed_port, needs_chromium, screenshot
from twin_core.settings import Settings

pytestmark = needs_chromium


def _open_platform(page, index: int, platform: str) -> None:
    section = page.locator(f"#authors fieldset.author >> nth={index}").locator(f"details[data-platform={platform}]")
    if section.get_attribute("open") is None:
        section.locator("summary").click()


def test_saving_keeps_everything_and_removal_asks_first(browser_page, serve_web, profile_dir):
    page = browser_page
    profiles = profile_dir / "twin.yaml"
    original = profiles.read_text()
    settings = Settings.of(profiles=profiles, dagster_url=f"http://127.0.0.1:{closed_port()}")
    with serve_web(settings) as url:
        page.goto(f"{url}/web")
        page.locator("#authors fieldset.author").first.wait_for()

        # Every setting the crawlers read is on the form, GitHub's file patterns included.
        _open_platform(page, 0, "github")
        paths = page.get_by_label("Only these files")
        assert paths.input_value().splitlines()[0] == "twin_core/documents.py"

        # Change one thing: only that line changes; comments and everything else stay.
        _open_platform(page, 0, "medium")
        page.get_by_label("Username").fill("tamsinvale")
        page.get_by_role("button", name="Save profiles").click()
        page.locator("#profiles-message", has_text="Saved.").wait_for()
        saved = profiles.read_text()
        assert saved == original.replace(
            "      exports: [samples/medium-export]\n",
            "      exports: [samples/medium-export]\n      username: tamsinvale\n",
        )

        # The patterns are editable like any other field.
        _open_platform(page, 0, "github")
        page.get_by_label("Only these files").fill("twin_core/*.py\ntwin_serving/*.py")
        page.get_by_role("button", name="Save profiles").click()
        page.locator("#profiles-message", has_text="Saved.").wait_for()
        author = yaml.safe_load(profiles.read_text())["authors"][0]
        assert author["github"]["paths"] == ["twin_core/*.py", "twin_serving/*.py"]
        assert "# The demo reads a few core modules only" in profiles.read_text()

        # A second author, then remove the first: nothing is written until it is confirmed.
        page.get_by_role("button", name="Add an author").click()
        second = page.locator("#authors fieldset.author").nth(1)
        second.get_by_label("Name", exact=True).fill("Ada Quill")
        _open_platform(page, 1, "web")
        second.locator("details[data-platform=web]").get_by_label("Article links").fill("https://example.com/ada/post")
        page.get_by_role("button", name="Save profiles").click()
        page.locator("#profiles-message", has_text="Saved.").wait_for()
        both = profiles.read_text()
        assert [a["name"] for a in yaml.safe_load(both)["authors"]] == ["Tamsin Vale", "Ada Quill"]

        first = page.locator("#authors fieldset.author").first
        first.get_by_role("button", name="Remove this author").click()
        note = first.locator(".removed-note")
        assert note.text_content().strip().startswith("“Tamsin Vale” will be removed when you save.")
        first.get_by_role("button", name="Undo").click()
        assert note.is_hidden() and first.get_by_label("Name", exact=True).is_visible()
        first.get_by_role("button", name="Remove this author").click()
        screenshot(page.locator("#profiles"), "web-profile-removal")

        page.get_by_role("button", name="Save profiles").click()
        dialog = page.locator("#confirm-remove")
        dialog.wait_for()
        assert "“Tamsin Vale” will be removed" in dialog.text_content()
        dialog.get_by_role("button", name="Keep them").click()
        page.locator("#profiles-message", has_text="nothing was removed").wait_for()
        assert profiles.read_text() == both

        page.get_by_role("button", name="Save profiles").click()
        dialog.get_by_role("button", name="Remove and save").click()
        page.locator("#profiles-message", has_text="Saved.").wait_for()
        remaining = yaml.safe_load(profiles.read_text())["authors"]
        assert [a["name"] for a in remaining] == ["Ada Quill"]
        assert profiles.read_text().startswith("# Who the twin learns from")
        assert page.locator("#authors fieldset.author").count() == 1
