"""Cleaning keeps the author's voice: styled letters to plain, prose tidied, code untouched."""

from twin_core.cleaning import (
    CLEANING_VERSION,
    clean_code,
    clean_document,
    clean_links,
    clean_prose,
    clean_title,
    is_current,
    plain_letters,
)
from twin_core.documents import Document


def test_styled_letters_become_plain_but_other_symbols_stay():
    assert plain_letters("𝐁𝐨𝐥𝐝 𝘪𝘵𝘢𝘭𝘪𝘤 𝚖𝚘𝚗𝚘 𝟏𝟐 ℎ") == "Bold italic mono 12 h"
    assert plain_letters("™ x² café …") == "™ x² café …"


def test_prose_whitespace_collapses_but_line_breaks_and_emojis_stay():
    raw = "Big news 🚀\r\n\r\n\r\n\r\nWe   shipped\u00a0it.\t \nThanks 👩‍💻 ❤️\u200b  "
    assert clean_prose(raw) == "Big news 🚀\n\nWe shipped it.\nThanks 👩‍💻 ❤️"


def test_links_lose_tracking_parameters_only():
    text = "Read https://Example.com/Post?utm_source=li&id=7&fbclid=x#part. Or http://a.io/?si=1!"
    assert clean_links(text) == "Read https://Example.com/Post?id=7#part. Or http://a.io/!"
    assert clean_links("no link here") == "no link here"


def test_code_keeps_every_space():
    source = "\ufeffdef f(a,  b):\r\n\tif a:\r\n        return  b   \r\n"
    assert clean_code(source) == "def f(a,  b):\n\tif a:\n        return  b   \n"


def test_clean_document_per_category_and_currency():
    repo = Document.create(
        platform="github", category="repository", author="Ana", url="https://github.com/ana/x",
        title="  𝐱  tools ", content="Tools   for 𝗱𝗮𝘁𝗮.", files={"a.py": "x  =  1\r\n", "blob.bin": "\0\1"},
    )
    cleaned = clean_document(repo)
    assert cleaned.id == repo.id and cleaned.title == "x tools"
    assert cleaned.content == "Tools for data."
    assert cleaned.files == {"a.py": "x  =  1\n"}  # binary dropped, code spacing kept
    assert cleaned.content_hash != repo.content_hash
    assert cleaned.extra["source_content_hash"] == repo.content_hash
    assert cleaned.extra["cleaning_version"] == CLEANING_VERSION
    assert is_current(cleaned, repo)
    assert not is_current(None, repo)
    changed = Document.create(
        platform="github", category="repository", author="Ana", url="https://github.com/ana/x",
        title="x tools", content="New text.",
    )
    assert not is_current(cleaned, changed)
    assert clean_title("A\n  title\twith   gaps") == "A title with gaps"
