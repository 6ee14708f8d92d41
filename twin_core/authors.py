"""One author's slice of the object store: each twin's documents, chunks, datasets and models
apart from every other author's, under keys that carry the author's slug.

``AuthorStore(store, slug)`` is an ``ObjectStore`` view. Code written for one author (the
warehouse, chunk store, dataset store, model registry, training) runs unchanged on it, and its
keys land in the author's own space:

    documents/linkedin/x.json      -> documents/<slug>/linkedin/x.json
    chunks/<document>.json         -> chunks/<slug>/<document>.json
    datasets/instruction/v1/...    -> datasets/instruction/<slug>/v1/...
    models/twin/v3/card.json       -> models/twin/<slug>/v3/card.json

The slug goes after the first segment of a key, or after the second under ``datasets/`` and
``models/`` (whose first level is the kind of thing). What every twin shares is passed through
unchanged: the base model (``models/base/``) and the HTTP cache. The slug is also the author's
Dagster partition key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from twin_core.object_store import ObjectStore

# Key spaces every author shares (one base model under all twins; a fetched page is the same page).
SHARED_PREFIXES = ("models/base/", "http-cache/")
# Where per-author data lives (what ``author_keys`` lists, without listing the whole store).
AUTHOR_ROOTS = ("documents", "cleaned", "chunks", "collection", "datasets", "models")
# Roots whose second segment names the kind (dataset name, model name); the slug follows it.
TWO_LEVEL_ROOTS = ("datasets", "models")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class AuthorNotFound(LookupError):
    """No author in the profiles has this slug."""


def author_slug(name: str) -> str:
    """``"Inês Duarte"`` -> ``"ines-duarte"``: ASCII letters and digits joined by dashes, stable
    across runs and safe in object keys, Dagster partition keys and Kubernetes names."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    if not slug:
        raise ValueError(f"author name {name!r} has no letters or digits to name it by")
    return slug


def profile_slugs(profiles) -> list[str]:
    """Every author's slug, in the profiles' order."""
    return [author_slug(a.name) for a in profiles.authors]


def is_slug(value: str) -> bool:
    return bool(_SLUG_RE.match(value))


def find_author(profiles, slug: str):
    """The profile whose name has this slug; ``AuthorNotFound`` names the authors there are."""
    for author in profiles.authors:
        if author_slug(author.name) == slug:
            return author
    known = ", ".join(profile_slugs(profiles)) or "none"
    raise AuthorNotFound(
        f"no author {slug!r} in the profiles (authors: {known}): add them to twin.yaml or the "
        "web page, or pick one of those.")


def _depth(key: str) -> int:
    return 2 if key.split("/", 1)[0] in TWO_LEVEL_ROOTS else 1


class AuthorStore:
    """The author's view of a store (see the module docstring for the key layout)."""

    def __init__(self, store: ObjectStore, slug: str):
        if not is_slug(slug):
            raise ValueError(f"{slug!r} is not an author slug (lowercase letters, digits, dashes)")
        self.store = store
        self.slug = slug

    def key(self, key: str) -> str:
        """The key in the underlying store."""
        if any(key.startswith(p) for p in SHARED_PREFIXES):
            return key
        parts = key.split("/")
        depth = _depth(key)
        if len(parts) <= depth:  # a top-level object (e.g. ``datasets/instruction``)
            return f"{key}/{self.slug}"
        return "/".join([*parts[:depth], self.slug, *parts[depth:]])

    def unkey(self, key: str) -> str | None:
        """The view's key for an underlying key, or None when it is not this author's."""
        if any(key.startswith(p) for p in SHARED_PREFIXES):
            return key
        parts = key.split("/")
        depth = _depth(key)
        if len(parts) <= depth or parts[depth] != self.slug:
            return None
        return "/".join([*parts[:depth], *parts[depth + 1:]])

    def put_bytes(self, key: str, data: bytes) -> None:
        self.store.put_bytes(self.key(key), data)

    def get_bytes(self, key: str) -> bytes:
        return self.store.get_bytes(self.key(key))

    def exists(self, key: str) -> bool:
        return self.store.exists(self.key(key))

    def delete(self, key: str) -> None:
        self.store.delete(self.key(key))

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        parts = prefix.split("/")
        if len(parts) > _depth(prefix) and not any(prefix.startswith(p) for p in SHARED_PREFIXES):
            # The prefix reaches past the slug's place: list exactly that part of the author's space.
            underlying = self.key(prefix)
        else:  # a short prefix ("", "models/", "datasets/inst"): list wide, keep this author's
            underlying = prefix
        for key in self.store.list_keys(underlying):
            mine = self.unkey(key)
            if mine is not None and mine.startswith(prefix):
                yield mine

    def describe(self) -> str:
        return f"{self.store.describe()} (author {self.slug})"

    def author_keys(self) -> Iterator[str]:
        """Every underlying key that belongs to this author alone (what forgetting them deletes):
        ``<root>/<slug>/`` for one-level roots, ``datasets/*`` and ``models/*`` filtered."""
        for root in AUTHOR_ROOTS:
            prefix = f"{root}/" if root in TWO_LEVEL_ROOTS else f"{root}/{self.slug}/"
            for key in self.store.list_keys(prefix):
                if not any(key.startswith(p) for p in SHARED_PREFIXES) and self.unkey(key) is not None:
                    yield key
