"""Sources never show the server's file paths: a local repository's document is cited by title."""

from __future__ import annotations

from twin_serving.rag.prompt import SourceText, build_prompt
from twin_serving.schemas import Source


def test_file_urls_never_reach_clients():
    local = Source(
        kind="past",
        url="file:///srv/twin/repos/secret-project",
        title="secret-project",
        score=0.9,
        snippet="def main(): ...",
    )
    assert local.url == ""
    assert "file://" not in local.model_dump_json()
    web = Source(
        kind="link", url="https://example.com/post", title="Post", score=1.0, snippet="..."
    )
    assert web.url == "https://example.com/post"


def test_file_urls_are_not_put_into_the_prompt():
    for kind in ("past", "link"):
        built = build_prompt("Describe my project", [SourceText(kind, "file:///home/someone/repo", "repo", "code")],
                             count_prompt=lambda messages: 100, count_text=len, budget=10_000)
        text = "\n".join(m["content"] for m in built.messages)
        assert "repo" in text and "file://" not in text and "/home/someone" not in text
