"""Each crawler through real HTTP on 127.0.0.1, against pages in every markup generation."""

import json
from pathlib import Path

import pytest

from tests.fixtures.loopback import Fault, Reply
from twin_core.crawlers import (
    ExtractionError,
    crawl_url,
    github,
    linkedin,
    medium,
    platform_of,
    substack,
)
from twin_core.http_fetch import HttpFetcher

PAGES = Path(__file__).parent / "pages"


@pytest.fixture
def client():
    with HttpFetcher(timeout_s=2, max_retries=1, backoff_base_s=0.01, per_host_rate=0) as fetcher:
        yield fetcher


def serve(loopback, name: str, path: str | None = None) -> str:
    return loopback.route(path or f"/{name}", Reply(body=(PAGES / f"{name}.html").read_bytes()))


@pytest.mark.parametrize(
    ("page", "generation", "title", "published", "first", "last"),
    [
        ("medium_2015", "2015", "Feature Flags for Models", "2016-11-03T08:15:00+00:00",
         "We ship code behind flags", "Watch the inputs."),
        ("medium_2019", "2019", "Shadow Traffic Before Launch", "2020-07-14T07:00:00+00:00",
         "Before a model meets users", "Learn in private, launch in public."),
        ("medium_2022", "2022", "The Boring Parts of RAG", "2023-06-05T09:30:00+00:00",
         "Retrieval fails quietly.", "Deduplicate before indexing."),
    ],
)
def test_medium_article_generations(loopback, client, page, generation, title, published, first, last):
    docs = crawl_url(serve(loopback, page), client, author="Tamsin Vale")
    assert len(docs) == 1
    doc = docs[0]
    assert (doc.platform, doc.category, doc.title, doc.extra["markup"]) == ("medium", "article", title, generation)
    # JSON-LD datePublished wins over article:published_time (which is the modified date here).
    assert doc.published_at == published
    assert doc.content.startswith(first)  # the drop cap is rejoined with its word
    assert doc.content.endswith(last)
    for chrome in ("Top highlight", "Member-only story", "Follow", "min read", "Recommended", "Loved this", "Great post"):
        assert chrome not in doc.content
    assert title not in doc.content  # the title is not repeated as a paragraph
    assert doc.url.startswith("https://medium.com/@tamsinvale/")


def test_medium_code_keeps_its_whitespace(loopback, client):
    doc = crawl_url(serve(loopback, "medium_2015"), client)[0]
    assert 'if flags.enabled("ranker_v2", user):\n    return ranker_v2(query)' in doc.content
    assert "Photo by someone else" not in doc.content
    assert doc.author == "Tamsin Vale"  # the byline, since no author was given


def test_substack_2020_drops_embeds_and_widgets(loopback, client):
    doc = crawl_url(serve(loopback, "substack_2020"), client)[0]
    assert doc.platform == "substack" and doc.extra["markup"] == "2020"
    assert doc.content.split("\n\n") == [
        "Labels have bugs, versions and authors.",
        "Write the guideline down, then re-label a sample.",
        "A two-page guide",
        "The best accuracy gain I ever got came from a two-page labeling guide.",
    ]
    assert "truncated" not in doc.extra


def test_substack_2022_body_paywall_keeps_free_part(loopback, client):
    doc = crawl_url(serve(loopback, "substack_2022_paywall"), client)[0]
    assert doc.extra["truncated"] is True
    assert doc.content.startswith("The GPU bill is rarely the model.")
    assert "Another publication" not in doc.content and "paid subscribers" not in doc.content
    assert "Utilisation by hour" not in doc.content


def test_substack_comments_paywall_is_not_a_body_paywall(loopback, client):
    # A custom domain: recognised from the page, not the host name.
    doc = crawl_url(serve(loopback, "substack_2022_comments_paywall"), client)[0]
    assert doc.platform == "substack"
    assert "truncated" not in doc.extra
    assert doc.url == "https://boring.example.com/p/small-models-often"


@pytest.mark.parametrize(
    ("page", "title", "published", "last"),
    [
        ("linkedin_2016", "Models Need Owners", "2016-05-19T00:00:00+00:00", "Models without owners decay quietly."),
        ("linkedin_2022", "Quality Gates That Block", "2022-11-08T09:00:00+00:00", "Keep the evidence."),
    ],
)
def test_linkedin_public_articles(loopback, client, page, title, published, last):
    doc = linkedin.crawl_article(serve(loopback, page), client, author="Tamsin Vale")
    assert (doc.platform, doc.category, doc.title, doc.published_at) == ("linkedin", "article", title, published)
    assert doc.content.endswith(last)
    assert "comment" not in doc.content.lower() and "agree" not in doc.content and "So true" not in doc.content


def test_generic_article_uses_json_ld_and_main_text(loopback, client):
    doc = crawl_url(serve(loopback, "web_jsonld"), client)[0]
    assert (doc.platform, doc.title, doc.author) == ("web", "Notes on Backfills", "Tamsin Vale")
    assert doc.published_at == "2023-12-12T17:00:00+00:00"
    assert doc.content.split("\n\n")[0].startswith("If your job only works for today")
    for noise in ("Home", "Subscribe", "Share on X", "Related posts", "First!", "©", "By Tamsin Vale"):
        assert noise not in doc.content


def test_empty_page_is_an_extraction_error(loopback, client):
    url = loopback.route("/empty", Reply(body="<html><body><nav>menu</nav></body></html>"))
    with pytest.raises(ExtractionError, match="no article text"):
        crawl_url(url, client)


def test_line_breaks_in_upper_case_markup():
    # Old pages write tags in capitals; <BR> is a line break like <br>.
    from twin_core.crawlers.html import fragment_text

    assert fragment_text("<P>First line<BR>second line</P><P>Next</P>") == "First line\nsecond line\n\nNext"


def test_platform_of_real_hosts():
    assert platform_of("https://medium.com/@a/x") == "medium"
    assert platform_of("https://towardsdatascience.medium.com/x") == "medium"
    assert platform_of("https://name.substack.com/p/x") == "substack"
    assert platform_of("https://www.linkedin.com/pulse/x") == "linkedin"
    assert platform_of("https://github.com/a/b") == "github"
    assert platform_of("https://example.com/post") == "web"


def test_linkedin_feed_urls_get_a_clear_error(client):
    with pytest.raises(ExtractionError, match="data export"):
        crawl_url("https://www.linkedin.com/feed/update/urn:li:activity:1", client)


# --- feeds ----------------------------------------------------------------------------------

MEDIUM_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">
<channel><title>Stories by Tamsin Vale on Medium</title><link>https://medium.com/@tamsinvale</link>
<item><title><![CDATA[Counting Rows]]></title><link>https://medium.com/@tamsinvale/counting-rows-abc123?source=rss-abc------2</link>
<guid isPermaLink="false">https://medium.com/p/abc123</guid><dc:creator><![CDATA[Tamsin Vale]]></dc:creator>
<pubDate>Tue, 05 Mar 2024 08:00:00 GMT</pubDate>
<content:encoded><![CDATA[<h3>Counting Rows</h3><p>Count rows before and after every join.</p><figure><img src="x.png"><figcaption>A chart</figcaption></figure><p>It is boring. It works.</p><img src="https://medium.com/_/stat?event=post.clientViewed" width="1" height="1">]]></content:encoded></item>
<item><title><![CDATA[Pinning]]></title><link>https://medium.com/@tamsinvale/pinning-def456?source=rss-abc------2</link>
<dc:creator><![CDATA[Tamsin Vale]]></dc:creator><pubDate>Mon, 01 Jan 2024 08:00:00 GMT</pubDate>
<content:encoded><![CDATA[<p>Pin every dependency.</p>]]></content:encoded></item>
</channel></rss>"""


def test_medium_feed_gives_full_articles(loopback, client):
    url = loopback.route("/feed/@tamsinvale", Reply(body=MEDIUM_FEED, content_type="text/xml; charset=UTF-8"))
    report = medium.crawl_feed(url, client, author="Tamsin Vale")
    assert report.failures == []
    first, second = report.documents
    assert first.url == "https://medium.com/@tamsinvale/counting-rows-abc123"  # tracking query dropped
    assert first.content == "Count rows before and after every join.\n\nIt is boring. It works."
    assert first.published_at == "2024-03-05T08:00:00+00:00"
    assert second.title == "Pinning" and first.extra["source"] == "feed"


def test_feed_with_entities_is_refused(loopback, client):
    bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel><item><title>&a;</title></item></channel></rss>'
    url = loopback.route("/bomb.xml", Reply(body=bomb, content_type="application/xml"))
    report = medium.crawl_feed(url, client, author="T")
    assert report.documents == [] and "DTD" in report.failures[0][1]


# --- Substack APIs ------------------------------------------------------------------------------


def substack_site(loopback, posts: int, *, broken_api: str | None = None, paid: str | None = None) -> str:
    slugs = [f"post-{i:02d}" for i in range(posts)]
    pages = [slugs[i:i + substack.PAGE_SIZE] for i in range(0, len(slugs), substack.PAGE_SIZE)] + [[]]
    for number, page in enumerate(pages):
        listing = [{"slug": s, "title": s.title(), "type": "newsletter", "audience": "everyone"} for s in page]
        query = f"/api/v1/archive?sort=new&offset={number * substack.PAGE_SIZE}&limit={substack.PAGE_SIZE}"
        loopback.route(query, Reply(body=json.dumps(listing), content_type="application/json"))
    for slug in slugs:
        body = {
            "slug": slug, "title": slug.replace("-", " ").title(), "post_date": "2024-01-02T08:00:00.000Z",
            "audience": "only_paid" if slug == paid else "everyone",
            "canonical_url": f"https://boring.example.com/p/{slug}",
            "body_html": f"<p>Body of {slug}.</p><div class=\"subscription-widget-wrap\"><p>Subscribe</p></div>",
        }
        if slug == broken_api:
            loopback.route(f"/api/v1/posts/{slug}", Reply(500, "oops"))
            page = (PAGES / "substack_2020.html").read_text()
            loopback.route(f"/p/{slug}", Reply(body=page))
        else:
            loopback.route(f"/api/v1/posts/{slug}", Reply(body=json.dumps(body), content_type="application/json"))
    return loopback.base


def test_substack_archive_is_paginated_and_posts_read_through_api(loopback, client):
    base = substack_site(loopback, 14, broken_api="post-03", paid="post-05")
    report = substack.crawl_publication(base, client, author="Tamsin Vale")
    assert report.failures == []
    assert len(report.documents) == 14
    assert len(loopback.hits("/api/v1/archive")) == 3  # 12 + 2 + an empty page
    by_slug = {d.url.rsplit("/", 1)[1]: d for d in report.documents}
    assert by_slug["post-00"].content == "Body of post-00."
    assert by_slug["post-05"].extra["truncated"] is True
    # post-03's API failed: its page was read instead (the fixture page names its own og:url).
    from_page = [d for d in report.documents if d.extra["source"] == "page"]
    assert [d.title for d in from_page] == ["Label Like You Mean It"]
    assert "post-03" not in by_slug and len(loopback.hits("/p/post-03")) == 1


def test_substack_falls_back_to_feed_when_archive_api_is_missing(loopback, client):
    feed = MEDIUM_FEED.replace("medium.com/@tamsinvale", "boring.example.com/p")
    loopback.route("/feed", Reply(body=feed, content_type="application/rss+xml"))
    report = substack.crawl_publication(loopback.base, client, author="Tamsin Vale")
    assert [d.title for d in report.documents] == ["Counting Rows", "Pinning"]
    assert all(d.platform == "substack" and d.extra["source"] == "feed" for d in report.documents)


def test_substack_reports_when_every_channel_fails(loopback, client):
    report = substack.crawl_publication(loopback.base, client, author="T")
    assert report.documents == []
    assert "archive API failed" in report.failures[0][1] and "feed failed" in report.failures[0][1]


# --- GitHub API ---------------------------------------------------------------------------------


def github_api(loopback, *, rate_limited_once: bool = False) -> str:
    base = loopback.base
    page1 = [
        {"full_name": "tvale/tiny-eval", "fork": False, "default_branch": "main", "html_url": "https://github.com/tvale/tiny-eval", "description": "Small evaluation harness."},
        {"full_name": "tvale/forked-lib", "fork": True, "default_branch": "main", "html_url": "https://github.com/tvale/forked-lib"},
    ]
    page2 = [{"full_name": "tvale/dotfiles", "fork": False, "default_branch": "trunk", "html_url": "https://github.com/tvale/dotfiles", "description": ""}]
    headers = {"X-RateLimit-Remaining": "41", "X-RateLimit-Limit": "60", "Link": f'<{base}/users/tvale/repos?page=2>; rel="next", <{base}/users/tvale/repos?page=2>; rel="last"'}
    loopback.route("/users/tvale/repos?per_page=100&type=owner&sort=full_name", Reply(body=json.dumps(page1), headers=headers, content_type="application/json"))
    second = Reply(body=json.dumps(page2), headers={"X-RateLimit-Remaining": "40"}, content_type="application/json")
    if rate_limited_once:
        import time

        limited = Reply(403, '{"message": "API rate limit exceeded"}', {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()))}, "application/json")
        loopback.route("/users/tvale/repos?page=2", Fault.sequence(limited, second))
    else:
        loopback.route("/users/tvale/repos?page=2", second)
    tree = {"tree": [
        {"path": "README.md", "type": "blob", "size": 40},
        {"path": "src/evals/run.py", "type": "blob", "size": 60},
        {"path": "src", "type": "tree"},
        {"path": "vendor/lib.py", "type": "blob", "size": 10},
        {"path": "poetry.lock", "type": "blob", "size": 10},
        {"path": "logo.png", "type": "blob", "size": 10},
        {"path": "data/huge.py", "type": "blob", "size": 5_000_000},
        {"path": "src/api_pb2.py", "type": "blob", "size": 10},
        {"path": "src/blob.py", "type": "blob", "size": 12},
    ], "truncated": False}
    loopback.route("/repos/tvale/tiny-eval/git/trees/main?recursive=1", Reply(body=json.dumps(tree), content_type="application/json"))
    files = {
        "README.md": b"# tiny-eval\n\nScore a model in one call.\n",
        "src/evals/run.py": b"def run(model, cases):\n    return [model(c) for c in cases]\n",
        "src/blob.py": b"\x00\x01binary\x00",
    }
    for path, data in files.items():
        loopback.route(f"/repos/tvale/tiny-eval/contents/{path}?ref=main", Reply(body=data, content_type="application/vnd.github.raw"))
    loopback.route("/repos/tvale/dotfiles/git/trees/trunk?recursive=1", Reply(body=json.dumps({"tree": [{"path": "install.sh", "type": "blob", "size": 20}]}), content_type="application/json"))
    loopback.route("/repos/tvale/dotfiles/contents/install.sh?ref=trunk", Reply(500, "boom"))
    return base


def test_github_user_repositories_through_api(loopback, client):
    api = github_api(loopback)
    report = github.crawl_user("tvale", client, author="Tamsin Vale", token="t0ken", api_url=api)
    assert [d.title for d in report.documents] == ["tvale/tiny-eval"]  # the fork is skipped
    doc = report.documents[0]
    assert sorted(doc.files) == ["README.md", "src/evals/run.py"]  # vendored, lock, binary, huge, generated skipped
    assert doc.files["src/evals/run.py"] == "def run(model, cases):\n    return [model(c) for c in cases]\n"
    assert doc.content.startswith("Small evaluation harness.")
    assert doc.url == "https://github.com/tvale/tiny-eval"
    assert report.failures[0][0] == "https://github.com/tvale/dotfiles"  # one bad repo is reported
    assert "HTTP 500" in report.failures[0][1]
    assert all(r.headers.get("authorization") == "Bearer t0ken" for r in loopback.requests)
    assert not loopback.hits("/robots.txt")  # an API, not pages


def test_github_rate_limit_reset_is_waited_for(loopback, client):
    api = github_api(loopback, rate_limited_once=True)
    report = github.crawl_user("tvale", client, author="T", api_url=api)
    assert [d.title for d in report.documents] == ["tvale/tiny-eval"]
    assert len(loopback.hits("/users/tvale/repos?page=2")) == 2


def test_next_link_parsing():
    header = '<https://api.github.com/user/repos?page=3>; rel="next", <https://api.github.com/user/repos?page=9>; rel="last"'
    assert github.next_link(header) == "https://api.github.com/user/repos?page=3"
    assert github.next_link('<https://x/?page=1>; rel="prev"') is None
    assert github.next_link(None) is None
