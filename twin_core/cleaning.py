"""Cleaning that keeps the author's voice.

Rules (see README, Features):
- "styled" letters (Unicode mathematical bold/italic/script/monospace, used on LinkedIn for
  emphasis) become plain letters, because tokenizers split them into rare byte pieces that
  neither retrieval nor training can read; nothing else is NFKC-folded (™, ², … stay).
- prose: line endings become ``\\n``, runs of spaces and tabs one space, trailing spaces go,
  three or more line breaks become one blank line. Single line breaks stay: on LinkedIn they
  are part of the style. Emojis (with their joiners and variation selectors) stay.
- invisible characters that carry nothing (zero-width space, BOM, soft hyphen) go.
- links lose their tracking parameters (``utm_*``, ``fbclid``, ...), keep everything else.
- code keeps every space and indent; only line endings and a leading BOM are normalised.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twin_core.documents import Document, content_hash

# Bump when a rule changes: every document is then cleaned again.
CLEANING_VERSION = "1"

# Letterlike symbols that fill the holes of the mathematical alphanumeric block (e.g. italic h).
_LETTERLIKE_STYLED = set("ℎℬℰℱℋℐℒℳℛℯℊℴℭℌℑℜℨℂℍℕℙℚℝℤ")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\ufeff\u00ad\u2060\u180e"))
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MANY_BREAKS = re.compile(r"\n{3,}")
_URL = re.compile(r"https?://[^\s<>()\[\]\"']+")
_URL_TRAILING = ".,;:!?"

TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid", "si",
        "trk", "trackingId", "lipi", "ref_src", "_hsenc", "_hsmi", "mkt_tok", "utm",
    }
)


def _is_tracking(name: str) -> bool:
    return name.startswith("utm_") or name in TRACKING_PARAMETERS


def plain_letters(text: str) -> str:
    """Map styled (mathematical) letters and digits to their plain forms; leave all else."""
    out = []
    for char in text:
        code = ord(char)
        if 0x1D400 <= code <= 0x1D7FF or char in _LETTERLIKE_STYLED:
            out.append(unicodedata.normalize("NFKC", char))
        else:
            out.append(char)
    return "".join(out)


def strip_tracking(url: str) -> str:
    """``url`` without tracking query parameters; case, path and fragment untouched."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def clean_links(text: str) -> str:
    def fix(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = ""
        while url and url[-1] in _URL_TRAILING:  # sentence punctuation after a link
            trail = url[-1] + trail
            url = url[:-1]
        return strip_tracking(url) + trail

    return _URL.sub(fix, text)


def clean_prose(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = plain_letters(unicodedata.normalize("NFC", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _MANY_BREAKS.sub("\n\n", "\n".join(lines)).strip()
    return clean_links(text)


def clean_title(text: str) -> str:
    return " ".join(clean_prose(text).split())


def clean_code(source: str) -> str:
    """Line endings to ``\\n`` and no leading BOM; indentation and spacing untouched."""
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    return source[1:] if source.startswith("\ufeff") else source


def clean_document(document: Document) -> Document:
    """The cleaned version of ``document`` (same id; ``content_hash`` of the cleaned text).

    ``extra`` records the raw content hash and the cleaning version, so a later run knows
    whether this record is still current.
    """
    title = clean_title(document.title)
    content = clean_prose(document.content)
    files = {path: clean_code(source) for path, source in document.files.items() if "\0" not in source}
    extra = {**document.extra, "source_content_hash": document.content_hash, "cleaning_version": CLEANING_VERSION}
    return replace(
        document,
        title=title,
        content=content,
        files=files,
        extra=extra,
        content_hash=content_hash(title, content, files),
    )


def is_current(cleaned: Document | None, raw: Document) -> bool:
    """True when ``cleaned`` was made from this exact ``raw`` version by the current rules (at
    the same address: a post whose publication moved domain is cleaned again to carry it)."""
    return (
        cleaned is not None
        and cleaned.extra.get("source_content_hash") == raw.content_hash
        and cleaned.extra.get("cleaning_version") == CLEANING_VERSION
        and cleaned.url == raw.url
    )
