"""The document contract shared by every pipeline (see DESIGN.md).

A document's ``id`` is a stable hash of (platform, identity): the post's own id where the
platform has one that every channel sees (Medium's hex post id, a Substack post's slug for its
author), else the canonical URL. So re-crawling the same page never creates a second record, and
the same post found through an export, a feed, an API or a page on another domain is one
document. ``content_hash`` changes only when the author's words change, which is what change
detection and the feature sensor key on.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

Platform = Literal["linkedin", "medium", "substack", "github", "web"]
Category = Literal["post", "article", "repository"]
PLATFORMS: tuple[str, ...] = ("linkedin", "medium", "substack", "github", "web")
CATEGORIES: tuple[str, ...] = ("post", "article", "repository")

# Query parameters that identify a visit, not a page.
TRACKING_PARAMS = frozenset(
    {
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
        "fbclid", "gclid", "mc_cid", "mc_eid", "ref", "ref_src", "source", "trk",
        "trackingId", "sk", "s", "r", "igshid", "si",
    }
)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragments, tracking parameters and trailing slashes."""
    parts = urlsplit(url.strip())
    query = ""
    if parts.query:  # most article URLs have none: skip the parse and re-encode
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in TRACKING_PARAMS])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


# Medium's post id: the hex tail of the slug ("...-3f1a9c2b7d10") or /p/<id>; the same on
# medium.com, a publication's custom domain, the feed and the export.
_MEDIUM_POST = re.compile(r"(?:^|/p/|-)([0-9a-f]{10,12})$")
_SUBSTACK_POST = re.compile(r"^/p/([^/]+)$")


def identity(platform: str, canonical: str, author: str) -> str:
    """What makes two records the same document, whichever channel found them."""
    path = urlsplit(canonical).path
    if platform == "medium" and (match := _MEDIUM_POST.search(path)):
        return f"medium post {match.group(1)}"
    if platform == "substack" and (match := _SUBSTACK_POST.match(path)):
        # A slug is unique within a publication, and a publication moves between
        # <name>.substack.com and custom domains; two authors can share a slug ("coming-soon").
        return f"substack post {author.strip().casefold()}/{match.group(1)}"
    return canonical


def document_id(platform: str, url: str, author: str = "") -> str:
    return _id_of(platform, identity(platform, canonical_url(url), author))


def _id_of(platform: str, canonical: str) -> str:
    return hashlib.sha256(f"{platform}\n{canonical}".encode()).hexdigest()[:32]


def content_hash(title: str, content: str, files: dict[str, str] | None = None) -> str:
    digest = hashlib.sha256()
    digest.update(title.encode())
    digest.update(b"\0")
    digest.update(content.encode())
    for path in sorted(files or {}):
        digest.update(b"\0" + path.encode() + b"\0" + files[path].encode())  # type: ignore[index]
    return digest.hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Document:
    """One piece of the author's writing as stored in the warehouse.

    ``content`` is the text (posts, articles) or, for repositories, a short description; the code
    itself lives in ``files`` (path -> source text, whitespace untouched).
    ``extra`` carries source-specific facts (``truncated`` for paywalled posts, ``source`` channel).
    """

    id: str
    platform: str
    category: str
    author: str
    url: str
    title: str
    content: str
    published_at: str | None
    fetched_at: str
    content_hash: str
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        platform: str,
        category: str,
        author: str,
        url: str,
        title: str,
        content: str,
        published_at: str | None = None,
        files: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        fetched_at: str | None = None,
    ) -> Document:
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}; expected one of {PLATFORMS}")
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
        files = dict(files or {})
        url, title = canonical_url(url), title.strip()  # once each: both feed two fields
        return cls(
            id=_id_of(platform, identity(platform, url, author)),
            platform=platform,
            category=category,
            author=author,
            url=url,
            title=title,
            content=content,
            published_at=published_at,
            fetched_at=fetched_at or utc_now(),
            content_hash=content_hash(title, content, files),
            files=files,
            extra=dict(extra or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
