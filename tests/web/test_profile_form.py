"""The page's profile form goes through twin_core.profiles' own validation, per field."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from twin_core.profiles import load_profiles
from twin_serving.web.profile_form import (
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
