"""Between the page's profile form and ``twin.yaml``.

Validation is ``twin_core.profiles``' own (the pydantic models and the path checks), only
reported per field so the page can show each message next to the input it is about. Saving
merges the form into the file as it is (``twin_core.profile_document``): comments, order and
settings the form does not show survive.
"""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin_core.profile_document import (
    SOURCE_KEY,
    ProfileDocumentError,
    load_document,
    merge_authors,
    to_plain,
    write_document,
)
from twin_core.profiles import (
    PLATFORM_KEYS,
    GitHubSource,
    LinkedInSource,
    MediumSource,
    ProfileError,
    Profiles,
    SubstackSource,
    WebSource,
)

FORM_ERROR = "form"
MAX_EXPORT_BYTES = 200 * 1024 * 1024


class FieldErrors(ValueError):
    """Bad input, as ``{"authors.0.medium.feeds": "message", ...}``."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def profiles_to_form(profiles: Profiles) -> dict[str, Any]:
    """Every platform present (empty when unused), so the page can render one form shape."""
    authors = []
    for index, author in enumerate(profiles.authors):
        data = author.model_dump(mode="json")
        for platform in PLATFORM_KEYS:
            data[platform] = data.get(platform) or {}
        # Which author of the file this is, so a save edits it in place (and notices if the
        # file changed underneath).
        data[SOURCE_KEY] = {"index": index, "name": author.name}
        authors.append(data)
    return {"authors": authors}


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def prune_empty(data: dict[str, Any]) -> dict[str, Any]:
    """Drop blank values and platforms the form left blank, so they are not saved as noise.

    A platform whose only setting is a flag (Substack's ``crawl``) has nothing to read from and
    is dropped too.
    """
    authors = []
    for author in data.get("authors") or []:
        if not isinstance(author, dict):
            authors.append(author)
            continue
        kept: dict[str, Any] = {}
        for key, value in author.items():
            if key in PLATFORM_KEYS and isinstance(value, dict):
                source = {k: v for k, v in value.items() if not _is_empty(v)}
                if any(not isinstance(v, bool) for v in source.values()):
                    kept[key] = source
            elif not _is_empty(value) or key == "name":
                kept[key] = value
        authors.append(kept)
    return {**data, "authors": authors}


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def validate_form(data: Any, base_dir: Path) -> Profiles:
    """The form's data as validated ``Profiles``, or ``FieldErrors`` naming each bad field."""
    if not isinstance(data, dict):
        raise FieldErrors({FORM_ERROR: "expected an object with an 'authors' list"})
    data = prune_empty(data)
    try:
        profiles = Profiles.model_validate({**data, "base_dir": base_dir})
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or FORM_ERROR
            errors.setdefault(where, _message(item["msg"]))
        raise FieldErrors(errors) from None
    # Paths are checked one platform at a time, so a missing export is reported on its field.
    errors = {}
    for index, author in enumerate(profiles.authors):
        for platform in PLATFORM_KEYS:
            source = getattr(author, platform)
            if source is None:
                continue
            alone = author.model_copy(update={p: None for p in PLATFORM_KEYS if p != platform})
            single = Profiles.model_construct(authors=[alone], base_dir=base_dir)
            try:
                single.check_paths()
            except ProfileError as error:
                field = "repositories" if platform == "github" else "exports"
                errors[f"authors.{index}.{platform}.{field}"] = str(error)
    if errors:
        raise FieldErrors(errors)
    return profiles


def save_form(data: Any, path: Path) -> Profiles:
    """Merge the form into ``path``'s own YAML, validate the result, then replace the file
    atomically. Nothing is written unless the whole result is valid."""
    if not isinstance(data, dict) or not isinstance(data.get("authors"), list):
        raise FieldErrors({FORM_ERROR: "expected an object with an 'authors' list"})
    if not all(isinstance(author, dict) for author in data["authors"]):
        raise FieldErrors({FORM_ERROR: "each author must be an object"})
    try:
        document = load_document(path)
        merge_authors(document, data["authors"], FIELD_DEFAULTS)
    except ProfileDocumentError as error:
        raise FieldErrors({FORM_ERROR: str(error)}) from None
    profiles = validate_form(to_plain(document), path.resolve().parent)
    try:
        write_document(document, path)
    except OSError as error:
        raise FieldErrors({FORM_ERROR: f"could not write {path.name}: {error.strerror}"}) from None
    return profiles


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "author"


def store_export(data: bytes, profiles_path: Path, author: str, platform: str) -> str:
    """Keep an uploaded export zip next to ``twin.yaml``; returns the path to put in the profile
    (relative to the profile file, as the profile loader resolves it)."""
    if platform not in {"linkedin", "medium", "substack"}:
        raise FieldErrors({FORM_ERROR: f"{platform} has no export upload"})
    if not data:
        raise FieldErrors({FORM_ERROR: "the uploaded file is empty"})
    if len(data) > MAX_EXPORT_BYTES:
        raise FieldErrors({FORM_ERROR: f"the export is over {MAX_EXPORT_BYTES // 2**20} MB"})
    if not zipfile.is_zipfile(BytesIO(data)):
        raise FieldErrors({FORM_ERROR: "the export must be the .zip file the platform sent you"})
    folder = profiles_path.resolve().parent / "uploads" / platform
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = folder / f"{_slug(author)}-{stamp}.zip"
    partial = target.with_suffix(".zip.part")
    partial.write_bytes(data)
    partial.replace(target)
    return target.relative_to(profiles_path.resolve().parent).as_posix()


# The form's layout: (platform, legend, [(field, label, kind, hint)]); kinds: text, list, flag.
# ``list`` is a textarea with one entry per line.
FORM_FIELDS: list[tuple[str, str, list[tuple[str, str, str, str]]]] = [
    ("linkedin", "LinkedIn", [
        ("exports", "Data exports", "list", "Upload the .zip LinkedIn e-mails you, or give folders, one per line."),
        ("articles", "Article links", "list", "Public article URLs, one per line."),
    ]),
    ("medium", "Medium", [
        ("username", "Username", "text", "Reads your public feed (medium.com/feed/@username)."),
        ("feeds", "Publication feeds", "list", "Extra RSS feed URLs, one per line."),
        ("exports", "Account exports", "list", "Export .zip files or folders, one per line."),
        ("articles", "Article links", "list", "Single article URLs, one per line."),
    ]),
    ("substack", "Substack", [
        ("url", "Publication URL", "text", "For example https://name.substack.com"),
        ("exports", "Account exports", "list", "Export .zip files or folders, one per line."),
        ("articles", "Post links", "list", "Single post URLs, one per line."),
        ("crawl", "Read the whole archive over the network", "flag", ""),
    ]),
    ("github", "GitHub", [
        ("user", "User", "text", "Reads this user's own (non-fork) repositories."),
        ("repositories", "Repositories", "list", "https://github.com/owner/name or local folders, one per line."),
        ("paths", "Only these files", "list", "Glob patterns such as src/*.py, one per line; empty reads every code file."),
    ]),
    ("web", "Other articles", [
        ("articles", "Article links", "list", "Any other article URLs, one per line."),
    ]),
]

SOURCE_MODELS = {
    "linkedin": LinkedInSource,
    "medium": MediumSource,
    "substack": SubstackSource,
    "github": GitHubSource,
    "web": WebSource,
}
# Each form field's default in the profile model: a field absent from the file stays absent
# when the form sends its default.
FIELD_DEFAULTS: dict[str, dict[str, Any]] = {
    platform: {
        field: SOURCE_MODELS[platform].model_fields[field].get_default(call_default_factory=True)
        for field, _label, _kind, _hint in fields
    }
    for platform, _legend, fields in FORM_FIELDS
}
