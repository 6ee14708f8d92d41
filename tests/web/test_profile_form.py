"""The page's profile form goes through twin_core.profiles' own validation, per field."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from twin_core.profiles import load_profiles
from twin_serving.web.profile_form import (
    FORM_FIELDS,
    SOURCE_MODELS,
    FieldErrors,
    profiles_to_form,
    prune_empty,
    save_form,
    store_export,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    shutil.copy(REPO / "twin.yaml", tmp_path / "twin.yaml")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    (tmp_path / "repo").mkdir()
    text = (tmp_path / "twin.yaml").read_text().replace('repositories: ["."]', "repositories: [repo]")
    (tmp_path / "twin.yaml").write_text(text)
    return tmp_path / "twin.yaml"


def test_form_round_trip_keeps_the_profile(profile_file: Path):
    before = load_profiles(profile_file)
    save_form(profiles_to_form(before), profile_file)
    assert load_profiles(profile_file).model_dump() == before.model_dump()


def test_saving_the_form_unchanged_leaves_the_file_byte_for_byte(profile_file: Path):
    original = profile_file.read_bytes()
    save_form(profiles_to_form(load_profiles(profile_file)), profile_file)
    assert profile_file.read_bytes() == original


def test_an_edit_keeps_comments_and_settings_the_form_sent_unchanged(profile_file: Path):
    form = profiles_to_form(load_profiles(profile_file))
    author = form["authors"][0]
    author["medium"]["username"] = "tamsinvale"
    author["github"]["paths"] = ["twin_core/documents.py", "twin_core/*.py"]
    save_form(form, profile_file)
    text = profile_file.read_text()
    # Every comment of the hand-written file is still there, and only the edited lines differ.
    assert "# Who the twin learns from" in text and "# user: tamsinvale" in text
    assert "crawl: false                  # true reads the archive API" in text
    assert "username: tamsinvale" in text
    saved = load_profiles(profile_file).authors[0]
    assert saved.github.paths == ["twin_core/documents.py", "twin_core/*.py"]
    assert saved.substack.crawl is False and saved.medium.username == "tamsinvale"


def test_a_form_without_a_field_leaves_that_setting_alone(profile_file: Path):
    # An older page (or another client) that does not know `paths` must not erase it.
    form = profiles_to_form(load_profiles(profile_file))
    del form["authors"][0]["github"]["paths"]
    save_form(form, profile_file)
    assert load_profiles(profile_file).authors[0].github.paths[0] == "twin_core/documents.py"


def test_every_setting_the_crawlers_accept_has_a_form_field():
    on_form = {platform: {f[0] for f in fields} for platform, _legend, fields in FORM_FIELDS}
    for platform, model in SOURCE_MODELS.items():
        assert set(model.model_fields) == on_form[platform], platform


def test_removing_an_author_and_adding_another(profile_file: Path):
    form = profiles_to_form(load_profiles(profile_file))
    form["authors"].append({"name": "Ada", "web": {"articles": ["https://example.com/a"]}})
    save_form(form, profile_file)
    assert [a.name for a in load_profiles(profile_file).authors] == ["Tamsin Vale", "Ada"]
    form = profiles_to_form(load_profiles(profile_file))
    form["authors"].pop(0)
    save_form(form, profile_file)
    assert [a.name for a in load_profiles(profile_file).authors] == ["Ada"]
    assert profile_file.read_text().startswith("# Who the twin learns from")


def test_a_file_changed_since_the_page_read_it_is_not_overwritten(profile_file: Path):
    form = profiles_to_form(load_profiles(profile_file))
    edited = profile_file.read_text().replace("name: Tamsin Vale", "name: Tamsin V.")
    profile_file.write_text(edited)
    with pytest.raises(FieldErrors, match="changed on disk since this page read it"):
        save_form(form, profile_file)
    assert profile_file.read_text() == edited


def test_each_bad_field_is_named_and_the_file_is_untouched(profile_file: Path):
    original = profile_file.read_bytes()
    form = profiles_to_form(load_profiles(profile_file))
    author = form["authors"][0]
    author["medium"]["feeds"] = ["not a url"]
    author["web"] = {"articles": ["https://example.com/ok", "ftp://example.com/no"]}
    author["linkedin"]["exports"] = ["samples/missing-export"]
    form["authors"].append({"name": "", "substack": {"exports": ["samples/substack-export"]}})

    with pytest.raises(FieldErrors) as caught:
        save_form(form, profile_file)

    errors = caught.value.errors
    assert "malformed URL" in errors["authors.0.medium.feeds"]
    assert "ftp://example.com/no" in errors["authors.0.web.articles"]
    assert "authors.1.name" in errors
    assert "need the publication 'url'" in errors["authors.1.substack"]
    assert profile_file.read_bytes() == original
    # Path checks run once the shapes are valid, and land on the export field.
    author["medium"]["feeds"], author["web"] = [], {}
    form["authors"].pop()
    with pytest.raises(FieldErrors) as caught:
        save_form(form, profile_file)
    assert caught.value.errors == {
        "authors.0.linkedin.exports": "author 'Tamsin Vale': linkedin export 'samples/missing-export' does not exist"
        " in the profile's folder or TWIN_ALLOWED_ROOTS"
    }
    assert profile_file.read_bytes() == original


def test_blank_platforms_are_not_saved(profile_file: Path):
    form = {"authors": [{"name": "Ada", "medium": {"username": None, "feeds": []},
                         "substack": {"crawl": True}, "web": {"articles": ["https://example.com/a"]}}]}
    assert prune_empty(form)["authors"][0] == {"name": "Ada", "web": {"articles": ["https://example.com/a"]}}
    save_form(form, profile_file)
    saved = load_profiles(profile_file).authors[0]
    assert saved.medium is None and saved.substack is None
    assert saved.web.articles == ["https://example.com/a"]


def test_uploaded_export_is_stored_next_to_the_profile(profile_file: Path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Shares.csv", "Date,ShareLink,ShareCommentary\n")
    relative = store_export(buffer.getvalue(), profile_file, "Tamsin Vale", "linkedin")
    assert relative.startswith("uploads/linkedin/tamsin-vale-") and relative.endswith(".zip")
    assert zipfile.is_zipfile(profile_file.parent / relative)

    with pytest.raises(FieldErrors, match="must be the .zip"):
        store_export(b"<html>not a zip</html>", profile_file, "Tamsin Vale", "linkedin")
    with pytest.raises(FieldErrors, match="no export upload"):
        store_export(buffer.getvalue(), profile_file, "Tamsin Vale", "github")
