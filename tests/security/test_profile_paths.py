"""Local paths in profiles stay inside the allowed folders, and the answer for a path outside
them is the one for a path that does not exist (no existence oracle)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from twin_core.profiles import ProfileError, load_profiles, parse_profiles, save_profiles
from twin_serving.web.profile_form import FieldErrors, save_form


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A profile folder with an export and a git repository, and the same outside it."""
    home = tmp_path / "profiles"
    outside = tmp_path / "elsewhere"
    for root in (home, outside):
        (root / "export").mkdir(parents=True)
        (root / "export" / "Shares.csv").write_text("Date,ShareCommentary\n")
        subprocess.run(["git", "init", "-q", str(root / "repo")], check=True)
    (home / "twin.yaml").write_text("authors: []\n")
    return {"home": home, "outside": outside}


def _error(data: dict, base: Path, roots: list[Path] | None = None) -> str:
    with pytest.raises(ProfileError) as info:
        parse_profiles(data, base, roots if roots is not None else [])
    return str(info.value)


def _linkedin(path: str) -> dict:
    return {"authors": [{"name": "A", "linkedin": {"exports": [path]}}]}


def _github(path: str) -> dict:
    return {"authors": [{"name": "A", "github": {"repositories": [path]}}]}


def test_paths_inside_the_profile_folder_are_read(layout):
    home = layout["home"]
    profiles = parse_profiles(
        {
            "authors": [
                {
                    "name": "A",
                    "linkedin": {"exports": ["export", str(home / "export")]},
                    "github": {"repositories": [".", "repo"]},
                }
            ]
        },
        home,
        [],
    )
    assert profiles.authors[0].linkedin.export_paths(home) == [home / "export"] * 2


@pytest.mark.parametrize("shape", [_linkedin, _github], ids=["export", "repository"])
def test_outside_paths_get_the_answer_of_a_missing_path(layout, shape):
    home, outside = layout["home"], layout["outside"]
    name = "export" if shape is _linkedin else "repo"
    tricks = [
        str(outside / name),  # absolute
        f"../elsewhere/{name}",  # parent traversal
        "~",  # the home folder
        "/",
        "/etc" if shape is _github else "/etc/passwd",
    ]
    missing = _error(shape(f"../elsewhere/no-such-{name}"), home)
    for trick in tricks:
        message = _error(shape(trick), home)
        assert message == missing.replace(f"../elsewhere/no-such-{name}", trick), trick


def test_a_symlink_out_of_the_profile_folder_is_refused(layout):
    home, outside = layout["home"], layout["outside"]
    os.symlink(outside / "repo", home / "link-out")
    assert "does not exist" in _error(_github("link-out"), home)


def test_named_allowed_roots_open_a_folder(layout):
    home, outside = layout["home"], layout["outside"]
    profiles = parse_profiles(_github(str(outside / "repo")), home, [outside])
    assert profiles.resolve(profiles.authors[0].github.repositories[0]) == outside / "repo"


def test_allowed_roots_come_from_the_environment(layout, monkeypatch):
    from twin_core.settings import get_settings

    home, outside = layout["home"], layout["outside"]
    (home / "twin.yaml").write_text(
        f"authors: [{{name: A, github: {{repositories: ['{outside / 'repo'}']}}}}]\n"
    )
    with pytest.raises(ProfileError):
        load_profiles(home / "twin.yaml")
    monkeypatch.setenv("TWIN_ALLOWED_ROOTS", f'["{outside}"]')
    get_settings.cache_clear()
    try:
        assert load_profiles(home / "twin.yaml").authors[0].github.repositories == [
            str(outside / "repo")
        ]
    finally:
        get_settings.cache_clear()


def test_the_page_cannot_save_a_path_outside(layout):
    home, outside = layout["home"], layout["outside"]
    before = (home / "twin.yaml").read_bytes()
    form = {
        "authors": [
            {
                "name": "A",
                "github": {"repositories": [str(outside / "repo")]},
                "linkedin": {"exports": ["../elsewhere/export"]},
            }
        ]
    }
    with pytest.raises(FieldErrors) as info:
        save_form(form, home / "twin.yaml")
    assert set(info.value.errors) == {"authors.0.github.repositories", "authors.0.linkedin.exports"}
    assert all("does not exist" in m for m in info.value.errors.values())
    assert (home / "twin.yaml").read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_saving_keeps_the_files_mode(layout, mode):
    path = layout["home"] / "twin.yaml"
    path.chmod(mode)
    save_profiles(parse_profiles({"authors": [{"name": "A"}]}, layout["home"], []), path)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_a_new_profile_file_is_readable_by_the_pipeline(layout):
    path = layout["home"] / "new.yaml"
    save_profiles(parse_profiles({"authors": [{"name": "A"}]}, layout["home"], []), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
