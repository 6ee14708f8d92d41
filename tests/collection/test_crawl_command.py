"""``twin crawl URL`` prints documents as JSON and stores nothing; failures are one line, exit 1."""

import json
from pathlib import Path

from tests.fixtures.loopback import Reply
from twin_core.cli import main

PAGES = Path(__file__).parent / "pages"


def test_crawl_prints_documents(loopback, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = loopback.route("/post", Reply(body=(PAGES / "medium_2022.html").read_bytes()))
    assert main(["crawl", url, "--author", "Tamsin Vale"]) == 0
    documents = json.loads(capsys.readouterr().out)
    assert [d["title"] for d in documents] == ["The Boring Parts of RAG"]
    assert documents[0]["author"] == "Tamsin Vale" and documents[0]["platform"] == "medium"
    assert list(tmp_path.iterdir()) == []  # nothing stored


def test_crawl_failure_is_one_line(loopback, capsys):
    url = loopback.route("/gone", Reply(410, "gone"))
    assert main(["crawl", url, "--retries", "0"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"twin crawl: error: {url}: HTTP 410 Gone"


def test_crawl_rejects_malformed_url(capsys):
    assert main(["crawl", "not a url"]) == 1
    assert "malformed URL" in capsys.readouterr().err
