"""``twin collect`` on a small profile: a summary on stdout (counts per asset, then each failed
source), nothing from Dagster's own log; new documents on the first run, unchanged on the second."""

import shutil
from pathlib import Path

import pytest
import yaml

from tests.fixtures.loopback import Reply
from twin_cli.main import main
from twin_core.settings import get_settings

ROOT = Path(__file__).parents[2]
COUNTS = ["documents", "new", "changed", "unchanged", "failed"]
ASSETS = {"custom_articles", "github_repositories", "linkedin_posts", "medium_articles", "substack_posts", "raw_documents"}
SHARES = """Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility
2024-01-02 09:00:00,https://www.linkedin.com/feed/update/urn:li:share:1,"Ship the boring version first.",,,MEMBERS
2024-01-03 09:00:00,https://www.linkedin.com/feed/update/urn:li:share:2,"Measure before you tune.",,,MEMBERS
"""


@pytest.fixture
def profile(tmp_path, monkeypatch, loopback):
    export = tmp_path / "export"
    export.mkdir()
    (export / "Shares.csv").write_text(SHARES)
    gone = loopback.route("/gone", Reply(404, "not here"))
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump({"authors": [{
        "name": "Test Author",
        "linkedin": {"exports": ["export"]},  # relative to twin.yaml
        "web": {"articles": [gone]},
    }]}))
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", dagster_home)  # the local instance as `make` sets it up
    monkeypatch.setenv("TWIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TWIN_PROFILES", str(tmp_path / "twin.yaml"))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    get_settings.cache_clear()
    yield gone
    get_settings.cache_clear()


def collect(capsys) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Run ``twin collect``; return its table as {asset: {count: value}} and the lines after it."""
    assert main(["collect"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # Dagster's step-by-step log does not reach the terminal
    lines = captured.out.splitlines()
    assert lines[0].split() == ["asset", *COUNTS]
    end = lines.index("")
    table = {line.split()[0]: dict(zip(COUNTS, line.split()[1:], strict=True)) for line in lines[1:end]}
    assert set(table) == ASSETS
    return table, lines[end + 1:]


def test_collect_prints_counts_new_then_unchanged(profile, capsys, tmp_path):
    table, rest = collect(capsys)
    assert table["linkedin_posts"] == {"documents": "2", "new": "2", "changed": "0", "unchanged": "0", "failed": "0"}
    assert table["custom_articles"]["failed"] == "1"
    assert table["raw_documents"] == {"documents": "2", "new": "2", "changed": "0", "unchanged": "-", "failed": "-"}
    assert rest[0] == "1 failed:"
    assert rest[1].startswith(f"  web: {profile}: ") and "404" in rest[1]
    assert rest[-1].startswith("run ") and "(success;" in rest[-1]
    assert len(list((tmp_path / "home" / "store" / "documents" / "test-author" / "linkedin").glob("*.json"))) == 2

    table, _ = collect(capsys)
    assert table["linkedin_posts"] == {"documents": "2", "new": "0", "changed": "0", "unchanged": "2", "failed": "0"}
    assert table["raw_documents"] == {"documents": "2", "new": "0", "changed": "0", "unchanged": "-", "failed": "-"}
