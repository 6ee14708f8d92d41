"""Each crawler through real HTTP on 127.0.0.1, against pages in every markup generation."""

import json
import re
import time
from pathlib import Path

import pytest

from tests.collection.fake_github import FakeGitHub, repo_object
from tests.fixtures.loopback import Reply
from twin_core.crawlers import (
    ExtractionError,
    crawl_url,
    github_api,
    linkedin,
    medium,
    platform_of,
    substack,
)
from twin_core.http_fetch import FetchError, HttpFetcher

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


EXPECTED = json.loads((PAGES / "expected.json").read_text())


def first_author(name: str) -> str:
    return re.split(r"\s*(?:;|,|\band\b|&)\s*", name)[0].strip()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_page_is_right_on_every_field_from_any_host(loopback, client, name):
    # Served from 127.0.0.1 under a path that names no platform: only the page says what it is.
    expected = EXPECTED[name]
    (doc,) = crawl_url(serve(loopback, name, f"/archive/2024/{name}"), client)
    assert doc.platform == expected["platform"]
    assert doc.title == expected["title"]
    assert first_author(doc.author) == expected["author"]
    assert (doc.published_at or "")[:10] == expected["date"]
    assert doc.content.startswith(expected["first"])
    assert doc.content.endswith(expected["last"])
    assert [text for text in expected["absent"] if text in doc.content] == []


def test_generic_pages_fall_back_to_trafilatura_only_when_structure_finds_too_little(loopback, client):
    # A 2009 Blogger post: text in one <div> split by <br><br>, no paragraphs to vote on.
    (old,) = crawl_url(serve(loopback, "web_blogger_2009"), client)
    (modern,) = crawl_url(serve(loopback, "web_wordpress"), client)
    assert (old.extra["extractor"], modern.extra["extractor"]) == ("trafilatura", "structure")
    assert old.content.split("\n\n")[1].startswith("So now every run appends one line to a log")


def test_platform_is_read_from_the_page_not_the_host():
    from twin_core.crawlers.detect import page_platform
    from twin_core.crawlers.html import Page

    found = {name: page_platform(Page((PAGES / f"{name}.html").read_text())) for name in EXPECTED}
    assert found == {name: (e["platform"] if e["platform"] != "web" else None) for name, e in EXPECTED.items()}
    # A blog post that embeds a Substack image or links to Medium is still a blog post.
    news = (PAGES / "web_news.html").read_text().replace(
        "<p>Doctors still", '<img src="https://substackcdn.com/image/x.png"><a href="https://medium.com/@x">Medium</a><p>Doctors still')
    assert page_platform(Page(news)) is None


def test_site_suffixes_and_badges():
    from twin_core.crawlers.metadata import clean_author, strip_site_suffix

    assert strip_site_suffix("The Boring Parts of RAG | by Tamsin Vale | Medium", ["Tamsin Vale"]) == "The Boring Parts of RAG"
    assert strip_site_suffix("Quality Gates That Block | Tamsin Vale | LinkedIn", ["Tamsin Vale"]) == "Quality Gates That Block"
    assert strip_site_suffix("Models Need Owners | Tamsin Vale | Pulse | LinkedIn", ["Tamsin Vale"]) == "Models Need Owners"
    assert strip_site_suffix("Retries Are a Contract - by Tamsin Vale - Boring ML", ["Boring ML", "Tamsin Vale"]) == "Retries Are a Contract"
    assert strip_site_suffix("Pandas - A Love Story | Field Notes", ["Field Notes"]) == "Pandas - A Love Story"  # its own dash stays
    assert strip_site_suffix("Cats | Dogs", []) == "Cats | Dogs"
    assert clean_author("Tamsin Vale Influencer") == "Tamsin Vale"
    assert clean_author("By Noor Haddad") == "Noor Haddad"
    assert clean_author("Tamsin Vale · Follow") == "Tamsin Vale"


def test_medium_state_of_another_post_is_never_used():
    # The Apollo state lists the sidebar's posts first; the page's own post is found by its id.
    from twin_core.crawlers.html import Page
    from twin_core.crawlers.metadata import medium_post

    post = medium_post(Page((PAGES / "medium_2023_custom.html").read_text()))
    assert post == {"date": "2023-11-20T08:00:00+00:00", "title": "Evaluation Sets Age", "author": "Tamsin Vale"}
    without_own = (PAGES / "medium_2023_custom.html").read_text().replace('"Post:e4d3c2b1a0f9"', '"Post:000000000000"')
    assert medium_post(Page(without_own)) == {}


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


@pytest.mark.parametrize("padding", [0, 5_000, 200_000])
def test_feed_with_entities_is_refused(loopback, client, padding):
    # A DTD after a long comment is still a DTD: the whole document is parsed with DTDs refused.
    comment = f"<!-- {'x' * padding} -->" if padding else ""
    bomb = (f'<?xml version="1.0"?>{comment}<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            "<rss><channel><item><title>&b;</title><link>https://x/p</link><description>&b;</description></item></channel></rss>")
    url = loopback.route("/bomb.xml", Reply(body=bomb, content_type="application/xml"))
    report = medium.crawl_feed(url, client, author="T")
    assert report.documents == [] and report.failures[0][1] == "feed declares a DTD or entities; refused"


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


def test_substack_post_api_answering_a_list_falls_back_to_the_page(loopback, client):
    base = substack_site(loopback, 2)
    loopback.route("/api/v1/posts/post-01", Reply(body=json.dumps([{"slug": "post-01"}]), content_type="application/json"))
    loopback.route("/p/post-01", Reply(body=(PAGES / "substack_2020.html").read_bytes()))
    report = substack.crawl_publication(base, client, author="T")
    assert report.failures == []
    assert sorted(d.extra["source"] for d in report.documents) == ["api", "page"]
    with pytest.raises(ExtractionError, match="post API answered with a list instead of a post"):
        substack.post_from_api([{"slug": "x"}], base, author="T")


def test_substack_archive_ignoring_the_offset_does_not_loop(loopback, client):
    base = substack_site(loopback, 3)
    same = json.dumps([{"slug": f"post-{i:02d}", "type": "newsletter"} for i in range(3)])
    for offset in range(0, 100 * substack.PAGE_SIZE, substack.PAGE_SIZE):
        loopback.route(f"/api/v1/archive?sort=new&offset={offset}&limit={substack.PAGE_SIZE}", Reply(body=same, content_type="application/json"))
    report = substack.crawl_publication(base, client, author="T")
    assert len(report.documents) == 3
    assert len(loopback.hits("/api/v1/archive")) == 2


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


# --- GitHub API (a fake GitHub on loopback: pagination, ETags, rate limits, tarballs) ---------

TINY_EVAL = {
    "README.md": b"# tiny-eval\n\nScore a model in one call.\n",
    "src/evals/run.py": b"def run(model, cases):\n    return [model(c) for c in cases]\n",
    "vendor/lib.py": b"x = 1\n",
    "poetry.lock": b"lock\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
    "data/huge.py": b"x = 1\n" * 30_000,
    "src/api_pb2.py": b"# generated\n",
    "src/blob.py": b"\x00\x01binary\x00",
    ".github/workflows/ci.yml": b"on: push\n",
}


@pytest.fixture
def fake_github(loopback):
    return FakeGitHub(loopback)


def publish(fake: FakeGitHub, count: int, *, per_page: int = 100) -> list[dict]:
    repos = [repo_object("tvale/tiny-eval", description="Small evaluation harness.")]
    repos += [repo_object("tvale/forked-lib", fork=True)]
    repos += [repo_object(f"tvale/tool-{i}", default_branch="trunk") for i in range(count - 1)]
    fake.repos("tvale", repos, per_page=per_page)
    fake.repository(repos[0], TINY_EVAL, links={"src/link.py": "/etc/passwd"})
    for repo in repos[2:]:
        fake.repository(repo, {"tool.py": f"NAME = {repo['name']!r}\n".encode()})
    return repos


def test_github_user_reads_each_repository_from_one_tarball(fake_github, client, loopback):
    publish(fake_github, 3, per_page=2)
    api = github_api.GitHubAPI(client, token="t0ken", api_url=fake_github.api)
    report = github_api.crawl_user(api, "tvale", author="Tamsin Vale")
    assert report.failures == []
    assert sorted(d.title for d in report.documents) == ["tvale/tiny-eval", "tvale/tool-0", "tvale/tool-1"]  # no fork
    doc = next(d for d in report.documents if d.title == "tvale/tiny-eval")
    # vendored, lock, image, huge, generated, binary, hidden-folder and symlinked files are all filtered locally
    assert sorted(doc.files) == ["README.md", "src/evals/run.py"]
    assert doc.files["src/evals/run.py"] == "def run(model, cases):\n    return [model(c) for c in cases]\n"
    assert doc.content.startswith("Small evaluation harness.") and doc.url == "https://github.com/tvale/tiny-eval"
    tool = next(d for d in report.documents if d.title == "tvale/tool-0")
    assert tool.files == {"tool.py": "NAME = 'tool-0'\n"}
    # Two listing pages, then one request per repository (its default branch's tarball): nothing per file.
    assert fake_github.used == 2 + 3
    assert sorted(r.path for r in loopback.requests if "/tarball/" in r.path) == [
        "/repos/tvale/tiny-eval/tarball/main", "/repos/tvale/tool-0/tarball/trunk", "/repos/tvale/tool-1/tarball/trunk"]
    assert all(r.headers.get("authorization") == "Bearer t0ken" for r in loopback.requests if not r.path.startswith("/codeload"))
    assert not loopback.hits("/robots.txt") and not any("/contents/" in r.path or "/git/trees" in r.path for r in loopback.requests)


def test_github_rate_limit_stops_early_with_one_line(fake_github, client, loopback):
    fake_github.limit = 4  # the listing and three tarballs
    publish(fake_github, 6)
    api = github_api.GitHubAPI(client, api_url=fake_github.api)
    report = github_api.crawl_user(api, "tvale", author="T")
    assert len(report.documents) == 3
    ((source, reason),) = report.failures
    reset = time.strftime("%H:%M", time.gmtime(fake_github.reset))
    assert source == "github user tvale"
    assert reason == f"3 of 6 repositories not read: GitHub's rate limit is reached (4 requests an hour without a token); set GITHUB_TOKEN or run again after {reset} UTC"
    assert fake_github.used == 4
    assert len([r for r in loopback.requests if "/tarball" in r.path]) == 3  # no request spent on a certain 403


def test_github_secondary_limit_halts_the_crawl(fake_github, client, loopback):
    repos = publish(fake_github, 4)
    fake_github.server.route(f"/repos/{repos[2]['full_name']}/tarball/trunk",
                             Reply(403, '{"message": "You have exceeded a secondary rate limit."}', {"Retry-After": "60", "X-RateLimit-Remaining": "50"}, "application/json"))
    api = github_api.GitHubAPI(client, api_url=fake_github.api)
    report = github_api.crawl_user(api, "tvale", author="T")
    assert len(report.documents) < 4
    (reason,) = [r for _, r in report.failures]
    assert "not read: GitHub asked to slow down (HTTP 403, a secondary rate limit); run again in a few minutes" in reason


def test_github_repository_lists_are_conditional(fake_github, loopback, tmp_path):
    from twin_core.object_store import LocalFolderStore

    publish(fake_github, 2)
    with HttpFetcher(timeout_s=2, max_retries=0, per_host_rate=0, cache=LocalFolderStore(tmp_path)) as cached:
        api = github_api.GitHubAPI(cached, api_url=fake_github.api)
        first = github_api.crawl_user(api, "tvale", author="T")
        used = fake_github.used
        second = github_api.crawl_user(github_api.GitHubAPI(cached, api_url=fake_github.api), "tvale", author="T")
    assert [d.content_hash for d in first.documents] == [d.content_hash for d in second.documents]
    listing = [r for r in loopback.requests if r.path.startswith("/users/tvale/repos")]
    assert listing[1].headers.get("if-none-match", "").startswith('"')  # the ETag from the first answer
    assert fake_github.used - used == 2  # the 304 listing is free; only the two tarballs counted
    assert not any("if-none-match" in r.headers for r in loopback.requests if "/tarball" in r.path)


def test_github_self_linking_pagination_ends(fake_github, client, loopback):
    page = [repo_object("tvale/tiny-eval")]
    first = "/users/tvale/repos?per_page=100&type=owner&sort=full_name"
    fake_github.json(first, page, {"Link": f'<{fake_github.api}{first}>; rel="next"'})
    fake_github.repository(page[0], {"a.py": b"x = 1\n"})
    api = github_api.GitHubAPI(client, api_url=fake_github.api)
    report = github_api.crawl_user(api, "tvale", author="T")
    assert [d.title for d in report.documents] == ["tvale/tiny-eval"]
    assert len(loopback.hits("/users/tvale/repos")) == 1


def test_github_wrong_json_shapes_are_one_line(fake_github, client):
    fake_github.json("/users/ghost/repos?per_page=100&type=owner&sort=full_name", {"message": "Not Found"})
    fake_github.json("/repos/tvale/listy", [{"name": "listy"}])
    fake_github.server.route("/repos/tvale/broken/tarball/main", Reply(body=b"<html>not a tarball</html>"))
    fake_github.json("/repos/tvale/broken", repo_object("tvale/broken"))
    api = github_api.GitHubAPI(client, api_url=fake_github.api)
    report = github_api.crawl_user(api, "ghost", author="T")
    assert report.failures == [("github user ghost", "GitHub answered with an object where a list of repositories was expected")]
    with pytest.raises(FetchError, match="GitHub answered with a list where an object was expected"):
        github_api.crawl_repository_url(api, "https://github.com/tvale/listy", author="T")
    with pytest.raises(ExtractionError, match="not a readable tarball"):
        github_api.crawl_repository_url(api, "https://github.com/tvale/broken", author="T")


def test_github_objects_of_any_api_era(fake_github, client, loopback):
    # Old objects: no full_name, owner as an object with login, master_branch instead of default_branch.
    old = {"name": "legacy", "owner": {"login": "tvale"}, "master_branch": "master", "fork": False, "html_url": "https://github.com/tvale/legacy"}
    bare = {"name": "bare", "owner": {"login": "tvale"}}  # no branch at all: GitHub's default is used
    fake_github.json("/users/tvale/repos?per_page=100&type=owner&sort=full_name", [old, bare, {"unexpected": True}, "junk"])
    fake_github.repository(old, {"a.py": b"a = 1\n"})
    fake_github.repository(bare, {"b.py": b"b = 2\n"})
    api = github_api.GitHubAPI(client, api_url=fake_github.api)
    report = github_api.crawl_user(api, "tvale", author="T")
    assert report.failures == []
    assert sorted(d.title for d in report.documents) == ["tvale/bare", "tvale/legacy"]
    assert {r.path for r in loopback.requests if "/tarball" in r.path} == {"/repos/tvale/legacy/tarball/master", "/repos/tvale/bare/tarball"}


def test_next_link_parsing():
    header = '<https://api.github.com/user/repos?page=3>; rel="next", <https://api.github.com/user/repos?page=9>; rel="last"'
    assert github_api.next_link(header) == "https://api.github.com/user/repos?page=3"
    assert github_api.next_link('<https://x/?page=1>; rel="prev"') is None
    assert github_api.next_link(None) is None


@pytest.mark.parametrize(
    "mutation",
    [
        ('"@type":"NewsArticle"', '"@type":[{"x":1},"NewsArticle"]'),
        ('"author":{"@type":"Person","name":"Tamsin Vale","url":"https:\\/\\/medium.com\\/@tamsinvale"}', '"author":[7, null, {"name": {"@value": "x"}}]'),
        ('"headline":"The Boring Parts of RAG - Medium"', '"headline":["a","b"]'),
        ('"publisher":{', '"publisher":[{'),
        ('"firstPublishedAt":1685957400000', '"firstPublishedAt":1e300'),
        ('"creator":{"__ref":"User:5a6b7c8d9e0f"}', '"creator":{"__ref":["User"]}'),
        ('window.__APOLLO_STATE__ = {', 'window.__APOLLO_STATE__ = {{{'),
        ('"Post:0f9e8d7c6b5a":{', '"Post:0f9e8d7c6b5a":['),
    ],
)
def test_strange_metadata_never_crashes_extraction(mutation):
    # Wrong JSON shapes in a page's JSON-LD or state lose that source of facts, nothing else.
    from twin_core.crawlers import extract_page

    html = (PAGES / "medium_2022.html").read_text()
    assert mutation[0] in html
    broken = html.replace(mutation[0], mutation[1], 1)
    document = extract_page(broken, "http://127.0.0.1/x")
    assert document.content.startswith("Retrieval fails quietly.") and document.title
