"""``twin.yaml`` as a document: edits from a form merged into the file as it is on disk.

``save_profiles`` writes the validated model, which drops comments and anything the model does not
carry. A form edit goes through here instead: the file is read with ``ruamel.yaml``'s round-trip
loader, only the fields the form names are changed, and everything else (comments, key order,
flow lists, keys the form does not show) is written back as it was.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

SOURCE_KEY = "_source"  # {"index": position in the file, "name": name there} of a loaded author


class ProfileDocumentError(ValueError):
    """The file cannot take the edit as it stands (unreadable, or changed since it was read)."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never re-wrap a long line the user wrote
    return yaml


def load_document(path: Path) -> CommentedMap:
    """The file's round-trip tree; an empty profile when it does not exist yet."""
    if not path.exists():
        return CommentedMap({"authors": CommentedSeq()})
    try:
        data = _yaml().load(path.read_text(encoding="utf-8"))
    except Exception as error:  # ruamel raises several unrelated classes for bad YAML
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ProfileDocumentError(f"{path.name} is not valid YAML ({first}): fix it by hand first") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ProfileDocumentError(f"{path.name} must be a mapping with an 'authors' list")
    if not isinstance(data.get("authors"), CommentedSeq):
        data["authors"] = CommentedSeq()
    return data


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _as_seq(values: Sequence[Any], like: Any) -> CommentedSeq:
    seq = CommentedSeq(values)
    flow = isinstance(like, CommentedSeq) and like.fa.flow_style()
    if flow or like is None:  # short lists read best inline, as twin.yaml writes them
        seq.fa.set_flow_style()
    return seq


def _merge_fields(target: CommentedMap, fields: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """Set, change or remove each field the form sent; keys it did not send stay untouched.
    A field that was absent stays absent when the form sends its default (no noise in the file)."""
    for key, value in fields.items():
        present = key in target
        if _blank(value) or (not present and key in defaults and value == defaults[key]):
            if present and _blank(value):
                del target[key]
            continue
        current = target.get(key)
        if isinstance(value, list):
            if list(current or []) != value:
                target[key] = _as_seq(value, current)
        elif current != value or not present:
            target[key] = value


def _only_flags(source: Mapping[str, Any]) -> bool:
    return all(isinstance(v, bool) for v in source.values())


def merge_authors(
    document: CommentedMap,
    authors: Sequence[Mapping[str, Any]],
    platforms: Mapping[str, Mapping[str, Any]],
) -> None:
    """Make the document's ``authors`` the form's, in the form's order.

    ``platforms`` maps each platform key to its form fields' defaults (``{"github": {"paths":
    [], ...}}``). A form author carrying ``_source`` is the file's author at that position, edited;
    one without is new; a file author no form author points at is removed.
    """
    existing: CommentedSeq = document["authors"]
    kept: list[CommentedMap] = []
    for author in authors:
        source = author.get(SOURCE_KEY)
        if source is None:
            target = CommentedMap()
        else:
            index, name = source.get("index"), source.get("name")
            if not isinstance(index, int) or not 0 <= index < len(existing) or (
                existing[index].get("name") != name
            ):
                raise ProfileDocumentError(
                    "twin.yaml changed on disk since this page read it: reload the page "
                    "(copy anything you typed first), then save again"
                )
            target = existing[index]
        if author.get("name") != target.get("name"):
            target["name"] = author.get("name")
        for platform, defaults in platforms.items():
            fields = author.get(platform)
            if not isinstance(fields, Mapping):
                continue
            section = target.get(platform)
            if not isinstance(section, CommentedMap):
                section = CommentedMap()
            _merge_fields(section, fields, defaults)
            known_only = set(section) <= set(defaults)
            if not section or (known_only and _only_flags(section)):
                target.pop(platform, None)
            elif platform not in target:
                target[platform] = section
        kept.append(target)
    # Remove from the end so the comments attached to the remaining items keep their positions.
    keep_ids = {id(item) for item in kept}
    for index in range(len(existing) - 1, -1, -1):
        if id(existing[index]) not in keep_ids:
            del existing[index]
    for item in kept:
        if not any(item is other for other in existing):
            existing.append(item)


def to_plain(value: Any) -> Any:
    """Plain dicts, lists and scalars (what the profile models validate)."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)  # ruamel's quoted-string subclasses
    return value


def dumps(document: CommentedMap) -> str:
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    return buffer.getvalue()


def write_document(document: CommentedMap, path: Path) -> None:
    """Replace ``path`` atomically: a crash leaves the old file or the new one, never half."""
    text = dumps(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
