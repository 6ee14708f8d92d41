"""Account exports (folder and zip) and local git repositories: the offline channels."""

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from twin_core.crawlers import github, linkedin, medium, substack
from twin_core.crawlers.html import ExtractionError

SAMPLES = Path(__file__).parents[2] / "samples"


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
    assert not any(name.startswith("samples/") or name.endswith(".lock") for name in doc.files)
