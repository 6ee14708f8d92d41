"""``twin crawl URL`` prints documents as JSON and stores nothing; failures are one line, exit 1."""

import json
from pathlib import Path

import pytest

from tests.fixtures.loopback import Reply
from twin_cli.main import main

PAGES = Path(__file__).parent / "pages"


def test_crawl_prints_documents(loopback, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = loopback.route("/post", Reply(body=(PAGES / "medium_2022.html").read_bytes()))
    assert main(["crawl", url, "--author", "Tamsin Vale"]) == 0
    documents = json.loads(capsys.readouterr().out)
    assert [d["title"] for d in documents] == ["The Boring Parts of RAG"]
    assert documents[0]["author"] == "Tamsin Vale" and documents[0]["platform"] == "medium"
    assert list(tmp_path.iterdir()) == []  # nothing stored


@pytest.mark.parametrize(
    ("page", "platform", "title", "published"),
    [
        ("medium_2021_custom", "medium", "Backfills Without Fear", "2021-04-20T06:45:00+00:00"),
        ("medium_2023_custom", "medium", "Evaluation Sets Age", "2023-11-20T08:00:00+00:00"),
        ("substack_2024_custom", "substack", "Retries Are a Contract", "2024-02-06T09:00:00+00:00"),
        ("linkedin_2016", "linkedin", "Models Need Owners", "2016-05-19T00:00:00+00:00"),
        ("linkedin_2022", "linkedin", "Quality Gates That Block", "2022-11-08T09:00:00+00:00"),
        ("web_wordpress", "web", "Why We Stopped Tuning Learning Rates", "2023-09-14T07:30:00+00:00"),
    ],
)
def test_crawl_prints_each_platform_from_any_host(loopback, capsys, page, platform, title, published):
    # No --author: the byline comes from the page itself.
    url = loopback.route(f"/mirror/{page}", Reply(body=(PAGES / f"{page}.html").read_bytes()))
    assert main(["crawl", url, "--ignore-robots"]) == 0
    (document,) = json.loads(capsys.readouterr().out)
    assert (document["platform"], document["title"], document["published_at"]) == (platform, title, published)
    assert document["author"] in {"Tamsin Vale", "Noor Haddad"}
    assert document["content"] and "Subscribe" not in document["content"]


def test_crawl_failure_is_one_line(loopback, capsys):
    url = loopback.route("/gone", Reply(410, "gone"))
    assert main(["crawl", url, "--retries", "0"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"twin crawl: error: {url}: HTTP 410 Gone"


def test_crawl_rejects_malformed_url(capsys):
    assert main(["crawl", "not a url"]) == 1
    assert "malformed URL" in capsys.readouterr().err
