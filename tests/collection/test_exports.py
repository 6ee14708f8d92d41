"""Account exports (folder and zip) and local git repositories: the offline channels."""

import csv
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from twin_core.crawlers import github, linkedin, medium, substack
from twin_core.crawlers.html import ExtractionError
from twin_core.documents import document_id

SAMPLES = Path(__file__).parents[2] / "samples"
EXPORTS = Path(__file__).parent / "exports"


def zip_folder(folder: Path, target: Path, top: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}{path.relative_to(folder).as_posix()}")
    return target


def test_unwrap_lines_of_multiline_posts():
    assert linkedin.unwrap_lines('"First line"\n""\n"He said ""hi"" twice"') == 'First line\n\nHe said ""hi"" twice'
    assert linkedin.unwrap_lines('"""quoted"" start"\n"end"') == '""quoted"" start\nend'
    assert linkedin.unwrap_lines("plain post\nsecond line") == "plain post\nsecond line"
    # One unwrapped line means the post was not wrapped: leave its quotes alone.
    assert linkedin.unwrap_lines('"a quote"\nplain') == '"a quote"\nplain'


@pytest.mark.parametrize("as_zip", [False, True])
def test_linkedin_export(tmp_path, as_zip):
    path = SAMPLES / "linkedin-export"
    if as_zip:
        path = zip_folder(path, tmp_path / "Complete_LinkedInDataExport.zip", top="Basic_LinkedInDataExport/")
    report = linkedin.import_export(path, "Tamsin Vale")
    assert report.failures == []
    posts = [d for d in report.documents if d.category == "post"]
    articles = [d for d in report.documents if d.category == "article"]
    assert len(posts) == 30 and len(articles) == 2  # the repost without commentary is skipped
    bold = next(d for d in posts if d.content.startswith("𝗧𝗿𝗮𝗶𝗻𝗶𝗻𝗴-𝘀𝗲𝗿𝘃𝗶𝗻𝗴"))
    assert bold.content.split("\n")[1:3] == ["", "your model learned from one function and is being fed by another."]
    notebook = next(d for d in posts if d.title.startswith("Hot take"))
    assert notebook.content.endswith('"It worked on my kernel" is not a deployment strategy.')
    assert not any('""' in d.content for d in posts)  # no wrapping quotes left behind
    quoted = [line for d in posts for line in d.content.split("\n") if line.startswith('"')]
    assert quoted == ['"It worked on my kernel" is not a deployment strategy.', '"What did the input look like?"']
    assert notebook.published_at == "2021-03-09T17:45:00+00:00"
    assert len({d.id for d in report.documents}) == 32
    review = next(d for d in articles if d.title == "Five Questions for Every Model Review")
    assert review.url == "https://www.linkedin.com/pulse/five-questions-every-model-review-tamsin-vale"
    assert review.published_at == "2022-09-01T07:30:00+00:00"
    assert "Created on" not in review.content and review.content.startswith("Model reviews in many teams")


def test_not_a_linkedin_export_is_reported(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    report = linkedin.import_export(tmp_path, "T")
    assert report.documents == [] and "is this a LinkedIn data export" in report.failures[0][1]


@pytest.mark.parametrize("as_zip", [False, True])
def test_medium_export_of_another_year(tmp_path, as_zip):
    # A 2015 post in an export made in 2019, laid out as Medium's archive is: a top folder, the
    # posts beside README, profile, claps and highlights pages; an 11-digit post id; a CSS
    # block in the head; sections split by dividers; a figure, list, code and quote.
    path = EXPORTS / "medium-2015"
    if as_zip:
        path = zip_folder(path, tmp_path / "medium-export-7f3c1a.zip")
    report = medium.import_export(path, "Tamsin Vale")
    assert report.failures == []
    (doc,) = report.documents  # the draft, README, profile, claps and highlights are not posts
    assert doc.title == "Keep a Changelog for Your Models"
    assert doc.url == "https://medium.com/@tamsinvale/keep-a-changelog-for-your-models-18504ab0fd0"
    assert doc.published_at == "2015-04-22T06:01:55+00:00"
    # The same post found on a custom domain or through the feed is the same document.
    assert doc.id == document_id("medium", "https://notes.example.com/keep-a-changelog-for-your-models-18504ab0fd0")
    assert doc.content.startswith("Every team I have joined had a folder of models")
    for kept in ("what data the model saw,", "Make the pipeline write it", 'echo "$(date -u +%F)',
                 "If it is not in the changelog, it did not ship."):
        assert kept in doc.content
    for gone in ("font-family", "Exported from", "Canonical link", "Nobody remembers why v7", "Originally published"):
        assert gone not in doc.content
    assert doc.content.count("Keep a Changelog for Your Models") == 0


def test_medium_post_without_its_footer_date_takes_the_file_name(tmp_path):
    # A published post (no draft_ prefix) whose footer lost its time element and canonical
    # link: the file name still says when it was published and which post it is.
    source = EXPORTS / "medium-2015" / "medium-export-7f3c1a" / "posts" / "2015-04-22_Keep-a-Changelog-for-Your-Models-18504ab0fd0.html"
    html = source.read_text()
    footer = html[html.index("<footer>"):html.index("</footer>")]
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / source.name).write_text(html.replace(footer, "<footer><p>Exported from Medium."))
    (doc,) = medium.import_export(tmp_path, "Tamsin Vale").documents
    assert doc.published_at == "2015-04-22T00:00:00+00:00"
    assert doc.url == "https://medium.com/p/18504ab0fd0"
    assert doc.id == document_id("medium", "https://medium.com/@tamsinvale/keep-a-changelog-for-your-models-18504ab0fd0")


@pytest.mark.parametrize("as_zip", [False, True])
def test_medium_export_skips_drafts(tmp_path, as_zip):
    path = SAMPLES / "medium-export"
    if as_zip:
        path = zip_folder(path, tmp_path / "medium-export.zip")
    report = medium.import_export(path, "Tamsin Vale")
    assert report.failures == []
    assert len(report.documents) == 7
    doc = next(d for d in report.documents if d.title == "The Evaluation Set Is the Product Spec")
    assert doc.url == "https://medium.com/@tamsinvale/the-evaluation-set-is-the-product-spec-3f1a9c2b7d10"
    assert doc.content.startswith("When a team tells me")  # drop cap rejoined
    assert "The Evaluation Set Is the Product Spec" not in doc.content
    assert doc.published_at == "2019-03-04T10:00:00+00:00"
    assert not any("Half an idea" in d.content for d in report.documents)


@pytest.mark.parametrize("as_zip", [False, True])
def test_substack_export(tmp_path, as_zip):
    path = SAMPLES / "substack-export"
    if as_zip:
        path = zip_folder(path, tmp_path / "export.zip")
    report = substack.import_export(path, "https://boringml.substack.com", "Tamsin Vale")
    assert report.failures == []
    assert len(report.documents) == 7  # the unpublished draft is skipped
    pinned = next(d for d in report.documents if d.title == "Boring ML, Issue 2: Pin Everything")
    assert pinned.url == "https://boringml.substack.com/p/boring-ml-issue-2-pin-everything"
    assert "Subscribe" not in pinned.content and "Thanks for reading" not in pinned.content


def test_substack_export_reports_missing_body(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(SAMPLES / "substack-export", folder)
    (folder / "posts" / "4101221.boring-ml-issue-1-count-your-rows.html").unlink()
    report = substack.import_export(folder, "https://boringml.substack.com", "T")
    assert len(report.documents) == 6
    assert report.failures == [("export/posts/4101221.boring-ml-issue-1-count-your-rows.html", "listed in posts.csv but the body file is missing")]


def git(path: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)


def test_local_git_repository_uses_tracked_files_and_filters(tmp_path):
    repo = tmp_path / "tiny-eval"
    (repo / "src").mkdir(parents=True)
    (repo / "vendor").mkdir()
    (repo / "src" / "run.py").write_text("def run(cases):\n\treturn [c for c in cases]  \n")
    (repo / "README.md").write_text("# tiny-eval\n")
    (repo / "vendor" / "lib.py").write_text("x = 1\n")
    (repo / "poetry.lock").write_text("lock\n")
    (repo / "src" / "blob.py").write_bytes(b"\x00\x01")
    (repo / "src" / "big.py").write_text("x = 1\n" * 30_000)
    (repo / "src" / "gen.py").write_text("# Code generated by protoc. DO NOT EDIT.\nx = 1\n")
    (repo / "untracked.py").write_text("print('not committed')\n")
    git(repo, "init", "-q")
    git(repo, "add", "src", "vendor", "README.md", "poetry.lock")
    git(repo, "remote", "add", "origin", "git@github.com:tvale/tiny-eval.git")
    doc = github.crawl_local(repo, author="Tamsin Vale")
    assert sorted(doc.files) == ["README.md", "src/run.py"]
    assert doc.files["src/run.py"] == "def run(cases):\n\treturn [c for c in cases]  \n"  # whitespace kept
    assert doc.url == "https://github.com/tvale/tiny-eval"
    assert doc.extra["skipped_files"] >= 2

    only_code = github.crawl_local(repo, author="Tamsin Vale", limits=github.Limits(paths=("src/*",)))
    assert sorted(only_code.files) == ["src/run.py"]


def test_local_folder_that_is_not_a_repository(tmp_path):
    with pytest.raises(ExtractionError, match="git rev-parse failed"):
        github.crawl_local(tmp_path, author="T")


def test_project_repository_is_a_code_source():
    doc = github.crawl_local(Path(__file__).parents[2], author="Tamsin Vale")
    assert "twin_core/documents.py" in doc.files
    # The sample exports are data, not code (their notes and profile files are read as text).
    assert not any(name.endswith(".lock") for name in doc.files)
    data = (".csv", ".html", ".json", ".zip")
    assert not any(name.startswith("samples/") and name.endswith(data) for name in doc.files)
    assert "samples/linkedin-export/Shares.csv" not in doc.files


# --- real export shapes, any year ---------------------------------------------------------------

EXPORTS = Path(__file__).parent / "exports"


def test_real_shares_csv_loses_its_per_line_quotes():
    # The 2024 export quotes each line of a multi-line post with doubled quotes: after CSV
    # parsing the first line ends with ", middle lines are "...", blank ones "", the last starts with ".
    report = linkedin.import_export(EXPORTS / "linkedin-2024", "Tamsin Vale")
    assert report.failures == []
    posts = {d.published_at[:10]: d for d in report.documents}
    assert len(posts) == 6  # the repost without commentary is skipped
    store = posts["2024-03-18"]
    assert store.content == (
        "𝗙𝗲𝗮𝘁𝘂𝗿𝗲 𝘀𝘁𝗼𝗿𝗲𝘀 are a cache with opinions.\n\n"
        "Most teams I talk to bought one before two models shared a single feature.\n\n"
        "Start with a function and a test. Buy the store when the second consumer shows up."
    )
    assert store.title == "𝗙𝗲𝗮𝘁𝘂𝗿𝗲 𝘀𝘁𝗼𝗿𝗲𝘀 are a cache with opinions."  # bold letters survive, no stray quote
    checks = posts["2024-02-12"].content.split("\n")
    assert checks[2:5] == [
        "1. Is the test split older than the training data? (it should not be)",
        "2. Are near-duplicates removed across splits?",
        '3. Would a "dumb" baseline score almost the same?',
    ]
    assert checks[-1].endswith("not the model. 🧪")
    assert posts["2024-01-30"].content == 'A manager once told me: "ship it, we will monitor it."\nWe had no dashboards. 𝘞𝘦 𝘩𝘢𝘥 𝘩𝘰𝘱𝘦.'
    assert posts["2024-01-09"].content.endswith("https://example.com/rollbacks-talk\n\n#MLOps #MachineLearning")
    assert posts["2023-12-19"].content == '"Done" means someone else can run it.'  # a real quote stays
    assert posts["2024-03-04"].extra["shared_url"] == "https://github.com/tvale/tiny-eval"
    for post in posts.values():  # every quote left is one the author wrote, and they come in pairs
        assert post.content.count('"') % 2 == 0 and post.title.count('"') % 2 == 0, post.content


def test_older_export_with_other_columns_in_windows_1252():
    report = linkedin.import_export(EXPORTS / "linkedin-2018", "Tamsin Vale")
    assert report.failures == []  # a whole-file legacy encoding is detected, not a failure
    first, second = sorted(report.documents, key=lambda d: d.published_at, reverse=True)
    assert first.content == "Café notes from PyData: naïve Bayes still wins on small data – and that’s fine."
    assert second.content == "Señor data engineers know: the join is where rows go to die.\n\nCount them before and after."
    assert first.published_at == "2018-06-05T07:12:00+00:00"


def test_mixed_encoding_names_the_doubtful_lines(tmp_path):
    data = (EXPORTS / "linkedin-2024" / "Shares.csv").read_bytes()
    data += "2023-11-01 08:00:00,https://www.linkedin.com/feed/update/urn:li:activity:1,Caf\u00e9 latte,,,PUBLIC\n".encode("cp1252")
    (tmp_path / "Shares.csv").write_bytes(data)
    report = linkedin.import_export(tmp_path, "T")
    assert len(report.documents) == 7
    assert next(d for d in report.documents if d.content == "Café latte")
    ((source, reason),) = report.failures
    assert source.endswith("Shares.csv") and reason == "mixes encodings: line 26 is not UTF-8 and read as Windows-1252; check their accents" and "Windows-1252" in reason


def test_oversized_field_skips_one_row_not_the_file(tmp_path):
    lines = (EXPORTS / "linkedin-2024" / "Shares.csv").read_text().splitlines(keepends=True)
    huge = '2024-03-10 10:00:00,https://www.linkedin.com/feed/update/urn:li:activity:2,"' + "x" * 1_200_000 + '",,,PUBLIC\n'
    (tmp_path / "Shares.csv").write_text("".join(lines[:6] + [huge] + lines[6:]))
    report = linkedin.import_export(tmp_path, "T")
    assert len(report.documents) == 6  # every other post is kept
    ((_, reason),) = report.failures
    assert reason == "record at line 7 could not be read (a field is larger than 1 MB); skipped"


def test_shares_without_commentary_column_is_one_line(tmp_path):
    (tmp_path / "Shares.csv").write_text("Date,ShareLink,Visibility\n2024-01-01,https://x,PUBLIC\n")
    report = linkedin.import_export(tmp_path, "T")
    assert report.documents == []
    assert report.failures[0][1] == "no ShareCommentary column; is this LinkedIn's Shares.csv?"


# --- hostile and broken archives: one line each, nothing else lost ----------------------------


def _zip(target: Path, members: dict[str, bytes], **kwargs) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def test_broken_zips_are_one_line_each(tmp_path):
    good = _zip(tmp_path / "good.zip", {"Shares.csv": (EXPORTS / "linkedin-2024" / "Shares.csv").read_bytes()})
    data = good.read_bytes()
    (tmp_path / "not.zip").write_bytes(b"<html>Sign in to LinkedIn</html>")
    (tmp_path / "truncated.zip").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    offset = data.index(b"Shares.csv") + 40  # inside the deflated member
    corrupt[offset:offset + 16] = b"\xff" * 16
    (tmp_path / "corrupt.zip").write_bytes(bytes(corrupt))
    # An encrypted member: bit 0 of the flags in its local and central headers (zipfile cannot
    # write encrypted members, so the flag is set on the bytes of a plain one).
    encrypted = bytearray(_zip(tmp_path / "plain.zip", {"Shares.csv": b"\x00" * 64}).read_bytes())
    encrypted[6] |= 0x1
    central = encrypted.index(b"PK\x01\x02")
    encrypted[central + 8] |= 0x1
    (tmp_path / "encrypted.zip").write_bytes(bytes(encrypted))
    reasons = {}
    for name in ("not.zip", "truncated.zip", "corrupt.zip", "encrypted.zip"):
        report = linkedin.import_export(tmp_path / name, "T")
        assert report.documents == [] and len(report.failures) == 1, name
        reasons[name] = report.failures[0][1]
        assert "\n" not in reasons[name] and "Error" not in reasons[name]
    assert "not a zip archive or is truncated" in reasons["not.zip"]
    assert "not a zip archive or is truncated" in reasons["truncated.zip"]
    assert "corrupt" in reasons["corrupt.zip"]
    assert "encrypted" in reasons["encrypted.zip"]
    assert len(linkedin.import_export(good, "T").documents) == 6


def test_zip_bomb_member_is_refused_before_it_is_read(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("Shares.csv", "w") as member:
            for _ in range(40):
                member.write(b"\0" * (1 << 20))  # 40 MB that deflate to ~40 KB
        archive.writestr("Articles/Articles/2022-09-01 07_30_00.0-x.html", b"<html><body><h1>T</h1><p>Kept.</p></body></html>")
    assert bomb.stat().st_size < 100_000
    report = linkedin.import_export(bomb, "T")
    assert [d.content for d in report.documents] == ["Kept."]
    ((_, reason),) = report.failures
    assert reason == "Shares.csv inflates to 40 MB, more than the 32 MB limit for one file"


def test_zip_bomb_lying_about_its_size_and_total_cap(tmp_path):
    from twin_core.crawlers.archives import ArchiveLimits, ExportArchive, ExportError

    small = ArchiveLimits(max_members=100, max_member_bytes=1 << 20, max_total_bytes=3 << 20)
    path = _zip(tmp_path / "many.zip", {f"posts/{i}.html": b"<p>x</p>" + b" " * (900 << 10) for i in range(5)})
    with ExportArchive(path, small) as archive:
        for name in archive.names():
            try:
                archive.read_bytes(name)
            except ExportError as error:
                assert str(error) == "many.zip inflates to more than the 3 MB limit for one export; refused"
                break
        else:
            raise AssertionError("the total cap was not applied")
    # A member whose header declares a smaller size than it inflates to is cut by the counted reads.
    with ExportArchive(path, ArchiveLimits(max_member_bytes=500 << 10)) as archive:
        archive._zip.getinfo("posts/0.html").file_size = 10  # what a forged header says
        try:
            archive.read_bytes("posts/0.html")
        except (ExportError, zipfile.BadZipFile) as error:
            assert "limit" in str(error) or "corrupt" in str(error)


def test_too_many_members_is_refused(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(20_001):
            archive.writestr(f"f{i}.txt", b"")
    report = medium.import_export(path, "T")
    assert report.documents == []
    assert report.failures == [(str(path), "many.zip holds 20001 files, more than the 20000 an export may have; unpack it and point the profile at the folder you need")]


def test_substack_export_of_another_year_reads_columns_by_name(tmp_path):
    # A newer posts.csv: columns reordered, new ones added, one row with broken quoting.
    folder = tmp_path / "export"
    shutil.copytree(SAMPLES / "substack-export", folder)
    rows = list(csv.DictReader((folder / "posts.csv").open(encoding="utf-8")))
    header = ["title", "subtitle", "post_id", "type", "audience", "is_published", "post_date", "write_comment_permissions", "podcast_url"]
    lines = [",".join(header)]
    for row in rows:
        values = [row.get(name, "everyone" if name == "write_comment_permissions" else "") for name in header]
        lines.append(",".join('"' + v.replace('"', '""') + '"' for v in values))
    lines.insert(3, '"A broken row, "quoted" badly,,,,')
    (folder / "posts.csv").write_text("\n".join(lines) + "\n")
    report = substack.import_export(folder, "https://boringml.substack.com", "Tamsin Vale")
    assert len(report.documents) == 7
    assert {d.title for d in report.documents} >= {"Boring ML, Issue 2: Pin Everything"}
    assert all(d.published_at for d in report.documents)


def test_links_out_of_an_export_folder_are_not_followed(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "Shares.csv").write_text("Date,ShareLink,ShareCommentary\n2024-01-01,https://x/1,server secret\n")
    folder = tmp_path / "export"
    shutil.copytree(EXPORTS / "linkedin-2024", folder)
    (folder / "Articles").mkdir()
    (folder / "Articles" / "Shares.csv").symlink_to(outside / "Shares.csv")
    (folder / "more").symlink_to(outside, target_is_directory=True)
    report = linkedin.import_export(folder, "T")
    assert len(report.documents) == 6
    assert not any("server secret" in d.content for d in report.documents)
