"""Export archives (a folder or a zip) read with bounded memory, and their text files decoded.

A data export comes from the person, through a file picker or an upload, so it is untrusted: a
zip can declare small members that inflate to gigabytes, hold millions of entries, be truncated,
corrupt or encrypted, and a CSV can be in any encoding. Every such problem becomes an
``ExportError`` with one line that says what is wrong and what to do; nothing is read whole
before its size is known to be within the limits.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from twin_core.crawlers.common import CrawlReport


class ExportError(ValueError):
    """An export (or one file in it) cannot be read; the message is one line with the remedy."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what one export may make us read (real exports are a few MB to a few hundred)."""

    max_members: int = 20_000
    max_member_bytes: int = 32 * 1024 * 1024  # the largest single file, inflated
    max_total_bytes: int = 1024 * 1024 * 1024  # every file read from one export, inflated


DEFAULT_LIMITS = ArchiveLimits()
_CHUNK = 1 << 16


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


class ExportArchive:
    """A data export given as a folder or a zip: iterate files by relative path either way."""

    def __init__(self, path: Path, limits: ArchiveLimits = DEFAULT_LIMITS):
        self.path = path
        self.limits = limits
        self.read_bytes_total = 0
        self.notes: list[tuple[str, str]] = []  # (file, one line) for the crawl report
        if not path.exists():
            raise ExportError(f"export {path} does not exist")
        self._zip: zipfile.ZipFile | None = None
        self._names: list[str] = []
        if path.is_file():
            self._zip = self._open_zip(path)
            infos = self._zip.infolist()
            if len(infos) > limits.max_members:
                self._zip.close()
                raise ExportError(
                    f"{path.name} holds {len(infos)} files, more than the {limits.max_members} an export may have; "
                    "unpack it and point the profile at the folder you need"
                )
            self._names = [i.filename for i in infos if not i.is_dir() and "__MACOSX" not in i.filename]
        else:
            root = path.resolve()
            for file in sorted(path.rglob("*")):
                # A link out of the folder would read files the export never held.
                if file.is_symlink() or not file.is_file() or not file.resolve().is_relative_to(root):
                    continue
                if len(self._names) >= limits.max_members:
                    raise ExportError(f"{path} holds more than {limits.max_members} files; point the profile at the export folder itself")
                self._names.append(file.relative_to(path).as_posix())

    @staticmethod
    def _open_zip(path: Path) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise ExportError(
                f"{path.name} is not a zip archive or is truncated; download the export again, or unpack it and use the folder"
            ) from None
        except OSError as error:
            raise ExportError(f"{path.name} cannot be opened ({error.strerror or 'read error'})") from None

    def names(self) -> Iterator[str]:
        return iter(self._names)

    def find(self, predicate: Callable[[PurePosixPath], bool]) -> list[str]:
        return sorted(n for n in self._names if predicate(PurePosixPath(n)))

    def read_bytes(self, name: str) -> bytes:
        """One file, inflated in small reads and refused as soon as it passes a cap."""
        limit = self.limits.max_member_bytes
        try:
            if self._zip is not None:
                info = self._zip.getinfo(name)
                if info.flag_bits & 0x1:
                    raise ExportError(f"{name} is encrypted; export again without a password, or unpack it and use the folder")
                if info.file_size > limit:  # declared sizes can lie; the reads below are counted too
                    raise ExportError(f"{name} inflates to {_mb(info.file_size)}, more than the {_mb(limit)} limit for one file")
                stream = self._zip.open(info)
            else:
                stream = (self.path / name).open("rb")
            with stream:
                data = self._read_capped(stream, name, limit)
        except zipfile.BadZipFile:
            raise ExportError(f"{name} is corrupt in the archive (bad data or checksum); download the export again") from None
        except (zlib.error, EOFError):
            raise ExportError(f"{name} is corrupt or truncated in the archive; download the export again") from None
        except NotImplementedError:
            raise ExportError(f"{name} uses a compression method this reader does not support; unpack it and use the folder") from None
        except RuntimeError:  # zipfile's "password required" for encrypted members
            raise ExportError(f"{name} is encrypted; export again without a password, or unpack it and use the folder") from None
        return data

    def _read_capped(self, stream: io.BufferedIOBase, name: str, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            self.read_bytes_total += len(chunk)
            if size > limit:
                raise ExportError(f"{name} inflates to more than the {_mb(limit)} limit for one file; refused")
            if self.read_bytes_total > self.limits.max_total_bytes:
                raise ExportError(
                    f"{self.path.name} inflates to more than the {_mb(self.limits.max_total_bytes)} limit for one export; refused"
                )
            parts.append(chunk)
        return b"".join(parts)

    def read_text(self, name: str) -> str:
        """A text file decoded (see ``decode_export``); a file in mixed encodings adds a line
        naming its doubtful lines to ``notes``."""
        decoded = decode_export(self.read_bytes(name))
        if decoded.encoding == "mixed":
            self.notes.append((name, describe_encoding(decoded)))
        return decoded.text

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> ExportArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_export(path: Path, report: CrawlReport) -> ExportArchive | None:
    """The archive, or ``None`` with the reason added to ``report`` as one line."""
    try:
        return ExportArchive(path)
    except ExportError as error:
        report.fail(str(path), error)
        return None


# --- encodings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedText:
    """A file's text, with the encoding it was read in and the lines that were not UTF-8."""

    text: str
    encoding: str = "utf-8"
    legacy_lines: tuple[int, ...] = field(default=())  # 1-based lines read as Windows-1252


def _legacy(line: bytes) -> str:
    # Windows-1252 is what "latin-1" files from Western systems almost always are; its five
    # undefined bytes fall back to latin-1 so no byte is lost.
    return line.decode("latin-1") if _has_undefined_cp1252(line) else line.decode("cp1252")


def _has_undefined_cp1252(data: bytes) -> bool:
    return any(b in data for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"))


def decode_export(data: bytes) -> DecodedText:
    """UTF-8 (with or without BOM, or UTF-16 with one); otherwise each line that is not UTF-8 is
    read as Windows-1252 and named, so a latin-1 export keeps its accents instead of becoming
    replacement characters."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return DecodedText(data.decode("utf-8-sig" if name == "utf-8" else name), name)
            except UnicodeDecodeError:
                break
    try:
        return DecodedText(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    out, legacy = [], []
    for number, line in enumerate(lines, 1):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(_legacy(line))
            legacy.append(number)
    encoding = "windows-1252" if len(legacy) == sum(1 for line in lines if any(b >= 0x80 for b in line)) else "mixed"
    return DecodedText("\n".join(out), encoding, tuple(legacy))


def describe_encoding(decoded: DecodedText) -> str:
    """One line for the report about a file whose lines were in different encodings."""
    lines = ", ".join(str(n) for n in decoded.legacy_lines[:10]) + (" ..." if len(decoded.legacy_lines) > 10 else "")
    which = f"lines {lines} are" if len(decoded.legacy_lines) > 1 else f"line {lines} is"
    return f"mixes encodings: {which} not UTF-8 and read as Windows-1252; check their accents"


# --- CSV --------------------------------------------------------------------------------------

# A field above this is not an export's own text (a LinkedIn post is at most 3,000 characters);
# Python's default limit (128 KB) would make one such field end the whole file.
MAX_FIELD_CHARS = 1024 * 1024


def _column_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def csv_rows(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """Rows of a CSV export keyed by normalised column name (``ShareLink``, ``Share Link`` and
    ``share_link`` are all ``sharelink``), so unknown columns of any export year are ignored and
    known ones found by name; each row comes with the line it starts on, plus one line per row
    that could not be read. A bad row is skipped; the rows after it are still read."""
    problems: list[str] = []
    records = list(_records(text, problems))
    if not records:
        return [], problems
    header = [_column_key(column) for column in records[0][1]]
    rows = []
    for line, values in records[1:]:
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            problems.append(f"row at line {line} has {len(values)} fields, the header {len(header)}; skipped")
            continue
        rows.append((line, dict(zip(header, values, strict=False))))
    return rows, problems


# Where an export record starts: a date (LinkedIn ``Date``) or a Substack ``<id>.<slug>``.
RECORD_START = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d+\.[\w-]+,)")


def _records(text: str, problems: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) for each record. ``csv`` raises on an oversized field and
    then cannot tell where the next record starts, so reading resumes at the next line that
    begins a record."""
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines):
        feed = _LineFeed(lines, start)
        reader = csv.reader(feed)
        first = start + 1
        try:
            for values in reader:
                yield first, values
                first = feed.position + 1
            return
        except csv.Error as error:
            reason = f"a field is larger than {MAX_FIELD_CHARS // (1024 * 1024)} MB" if "larger" in str(error) else "malformed quoting"
            problems.append(f"record at line {first} could not be read ({reason}); skipped")
            start = next((i for i in range(feed.position, len(lines)) if RECORD_START.match(lines[i])), len(lines))


class _LineFeed:
    """Feeds lines to ``csv.reader`` and remembers how far it has read."""

    def __init__(self, lines: list[str], start: int):
        self.lines = lines
        self.position = start

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
