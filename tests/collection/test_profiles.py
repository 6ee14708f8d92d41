"""twin.yaml: the committed example loads, bad files fail with a line that says why."""

from pathlib import Path

import pytest

from twin_core.profiles import ProfileError, load_profiles, parse_profiles, save_profiles

ROOT = Path(__file__).parents[2]


def test_example_profile_points_at_shipped_samples():
    profiles = load_profiles(ROOT / "twin.yaml")
    author = profiles.authors[0]
    assert author.name == "Tamsin Vale"
    assert author.linkedin.export_paths(profiles.base_dir) == [ROOT / "samples" / "linkedin-export"]
    assert profiles.resolve(author.github.repositories[0]) == ROOT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("authors: [{name: A, twitter: {}}]", "unknown platform 'twitter'"),
        ("authors: [{name: A, web: {articles: [not-a-url]}}]", "authors.0.web.articles: malformed URL 'not-a-url'"),
        ("authors: [{name: A, medium: {feeds: ['ftp://x.org/feed']}}]", "malformed URL"),
        ("authors: [{name: A, linkedin: {exports: [missing.zip]}}]", "linkedin export 'missing.zip' does not exist"),
        ("authors: [{name: A, github: {repositories: [no-such-dir]}}]", "github repository folder 'no-such-dir' does not exist"),
        ("authors: [{name: A, github: {repositories: ['https://gitlab.com/a/b']}}]", "malformed GitHub repository URL"),
        ("authors: [{name: A, substack: {exports: [.]}}]", "substack exports need the publication 'url'"),
        ("authors: [{name: A}, {name: A}]", "author 'A' is listed twice"),
        ("authors: [{name: A, medium: {username: 'a b'}}]", "malformed Medium username"),
        ("- just a list", "must be a mapping"),
        ("authors: [", "not valid YAML"),
    ],
)
def test_invalid_profiles_fail_clearly(tmp_path, text, message):
    path = tmp_path / "twin.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profiles(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profiles(tmp_path / "nope.yaml")


def test_save_round_trips_and_refuses_invalid(tmp_path):
    (tmp_path / "export").mkdir()
    path = tmp_path / "twin.yaml"
    profiles = parse_profiles(
        {"authors": [{"name": "A", "medium": {"username": "@ada", "exports": ["export"]}}]}, tmp_path
    )
    save_profiles(profiles, path)
    again = load_profiles(path)
    assert again.authors[0].medium.username == "ada"
    assert again.authors[0].medium.feed_urls() == ["https://medium.com/feed/@ada"]
    assert again.model_dump() == profiles.model_dump()
    before = path.read_text()
    broken = again.model_copy(deep=True)
    broken.authors[0].medium.exports = ["gone"]
    with pytest.raises(ProfileError):
        save_profiles(broken, path)
    assert path.read_text() == before  # nothing lost
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left
