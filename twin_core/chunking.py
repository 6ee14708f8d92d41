"""Token-aware chunking per category.

Token counts come from the embedder's own tokenizer (a ``count_tokens`` callable, special
tokens included), and no chunk ever exceeds ``max_tokens``:
- post: one chunk unless it is too long, then split like an article;
- article: sections at Markdown headings, packed paragraph by paragraph; a paragraph that does
  not fit is split into sentences; consecutive chunks of a section share ``overlap_tokens`` of
  trailing sentences so an idea cut at a boundary is still found;
- repository: per file, Python split at top-level function/class boundaries (``ast``; a class
  too long is split at its methods), other languages at blank-line blocks; the file path heads
  every chunk of that file. Whitespace inside code is kept as written.
Chunk id = hash of document id + chunk text, so it is stable across runs.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from twin_core.documents import Document

CountTokens = Callable[[str], int]

# Bump when the rules change: every document is then chunked again.
CHUNKING_VERSION = "1"

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n")


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: what chunking writes, Milvus stores and a search returns.

    ``score`` is set on search results (cosine similarity to the query); ``vector`` only when a
    search asked for the stored embeddings. ``token_count`` is known where chunking made it.
    """

    id: str
    document_id: str
    author: str
    platform: str
    category: str
    url: str
    title: str
    position: int
    text: str
    token_count: int = 0
    score: float = 0.0
    vector: tuple[float, ...] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        if out["vector"] is None:
            del out["vector"]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def snippet(self, chars: int = 240) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


# A chunk as a search returns it (``score`` set): the same record, named for what it is there.
Hit = Chunk


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 256
    overlap_tokens: int = 32

    def version(self, tokenizer_name: str) -> str:
        return f"{CHUNKING_VERSION}:{tokenizer_name}:{self.max_tokens}:{self.overlap_tokens}"


def chunk_id(document_id: str, text: str) -> str:
    return hashlib.sha256(f"{document_id}\n{text}".encode()).hexdigest()[:32]


# --- splitting text so every piece fits -------------------------------------------------


def split_to_fit(text: str, count: CountTokens, budget: int) -> list[str]:
    """Pieces of ``text`` each within ``budget`` tokens: by lines, then words, then characters."""
    if count(text) <= budget:
        return [text]
    for separator in ("\n", " "):
        parts = text.split(separator)
        if len(parts) > 1:
            pieces: list[str] = []
            for part in parts:
                if part.strip():
                    pieces.extend(split_to_fit(part, count, budget))
            return pack(pieces, count, budget, separator)
    # One unbroken run (a hash, minified code): halve until it fits.
    middle = len(text) // 2
    return split_to_fit(text[:middle], count, budget) + split_to_fit(text[middle:], count, budget)


def pack(pieces: Iterable[str], count: CountTokens, budget: int, separator: str) -> list[str]:
    """Join consecutive pieces greedily while the joined text stays within ``budget``."""
    out: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if current and count(separator.join([*current, piece])) > budget:
            out.append(separator.join(current))
            current = []
        current.append(piece)
    if current:
        out.append(separator.join(current))
    return out


def sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s and s.strip()]


# --- prose ------------------------------------------------------------------------------


def sections(text: str) -> list[str]:
    """Text cut before each Markdown heading line."""
    out: list[list[str]] = [[]]
    for line in text.split("\n"):
        if _HEADING.match(line) and any(part.strip() for part in out[-1]):
            out.append([])
        out[-1].append(line)
    return ["\n".join(lines).strip() for lines in out if "\n".join(lines).strip()]


def chunk_prose(text: str, count: CountTokens, config: ChunkingConfig) -> list[str]:
    budget = config.max_tokens
    chunks: list[str] = []
    for section in sections(text):
        if count(section) <= budget:
            chunks.append(section)
            continue
        # Units: whole paragraphs where they fit, else their sentences (each within budget).
        units: list[tuple[str, bool]] = []  # (text, starts a paragraph)
        for paragraph in _PARAGRAPH_BREAK.split(section):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            if count(paragraph) <= budget:
                units.append((paragraph, True))
                continue
            first = True
            for sentence in sentences(paragraph):
                for piece in split_to_fit(sentence, count, budget):
                    units.append((piece, first))
                    first = False
        chunks.extend(_pack_with_overlap(units, count, config))
    return chunks


def _join(units: list[tuple[str, bool]]) -> str:
    text = ""
    for unit, new_paragraph in units:
        text = unit if not text else text + ("\n\n" if new_paragraph else " ") + unit
    return text


def _pack_with_overlap(units: list[tuple[str, bool]], count: CountTokens, config: ChunkingConfig) -> list[str]:
    out: list[str] = []
    current: list[tuple[str, bool]] = []
    fresh = 0  # units in ``current`` not carried over from the previous chunk
    for unit in units:
        if current and count(_join([*current, unit])) > config.max_tokens:
            out.append(_join(current))
            # Carry trailing units (up to overlap_tokens) that still leave room for ``unit``.
            carried: list[tuple[str, bool]] = []
            for previous in reversed(current):
                trial = [previous, *carried]
                if count(_join(trial)) > config.overlap_tokens or count(_join([*trial, unit])) > config.max_tokens:
                    break
                carried = trial
            current, fresh = carried, 0
        current.append(unit)
        fresh += 1
    if current and fresh:
        out.append(_join(current))
    return out


# --- code -------------------------------------------------------------------------------


def _python_units(source: str) -> list[str] | None:
    """Top-level blocks of a Python file, cut at function/class boundaries; None if unparsable."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = source.split("\n")
    starts = []
    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or not starts:
            starts.append(first - 1)
    if not starts:
        return [source] if source.strip() else []
    starts[0] = 0  # module docstring, imports and comments open the first unit
    bounds = [*starts, len(lines)]
    units = ["\n".join(lines[a:b]).rstrip() for a, b in zip(bounds, bounds[1:], strict=False)]
    return [unit for unit in units if unit.strip()]


def _class_methods(unit: str) -> list[str] | None:
    """A too-long class split at its methods (the header stays with the first part)."""
    try:
        tree = ast.parse(unit)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.ClassDef):
        return None
    lines = unit.split("\n")
    starts = [0]
    for node in tree.body[0].body[1:]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            starts.append(min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1)
    bounds = [*starts, len(lines)]
    return ["\n".join(lines[a:b]).rstrip() for a, b in zip(bounds, bounds[1:], strict=False) if "\n".join(lines[a:b]).strip()]


def _blank_line_blocks(source: str) -> list[str]:
    return [block.rstrip() for block in re.split(r"\n[ \t]*\n", source) if block.strip()]


def chunk_code(path: str, source: str, count: CountTokens, config: ChunkingConfig) -> list[str]:
    header = f"{path}\n\n"
    budget = config.max_tokens - (count(header) - count(""))
    if budget < 8:
        raise ValueError(f"path {path!r} leaves no room for code within {config.max_tokens} tokens")
    units = _python_units(source) if path.endswith(".py") else None
    if units is None:
        units = _blank_line_blocks(source)
    pieces: list[str] = []
    for unit in units:
        if count(unit) <= budget:
            pieces.append(unit)
            continue
        methods = _class_methods(unit)
        for part in methods if methods and len(methods) > 1 else _blank_line_blocks(unit):
            pieces.extend(split_to_fit(part, count, budget))
    return [header + body for body in pack(pieces, count, budget, "\n\n")]


# --- documents --------------------------------------------------------------------------


def chunk_texts(document: Document, count: CountTokens, config: ChunkingConfig) -> list[str]:
    texts: list[str] = []
    if document.category == "repository":
        if document.content.strip():
            texts.extend(chunk_prose(document.content, count, config))
        for path in sorted(document.files):
            if document.files[path].strip():
                texts.extend(chunk_code(path, document.files[path], count, config))
    else:
        texts.extend(chunk_prose(document.content, count, config))
    return texts


def chunk_document(document: Document, count: CountTokens, config: ChunkingConfig | None = None) -> list[Chunk]:
    """The document's chunks in reading order; empty chunks and exact repeats are dropped."""
    config = config or ChunkingConfig()
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for text in chunk_texts(document, count, config):
        text = text.strip("\n")
        identifier = chunk_id(document.id, text)
        if not text.strip() or identifier in seen:
            continue
        seen.add(identifier)
        tokens = count(text)
        if tokens > config.max_tokens:  # guard the invariant the embedder relies on
            raise AssertionError(f"chunk of {tokens} tokens exceeds {config.max_tokens}")
        chunks.append(
            Chunk(
                id=identifier, document_id=document.id, author=document.author, platform=document.platform,
                category=document.category, url=document.url, title=document.title, position=len(chunks),
                text=text, token_count=tokens,
            )
        )
    return chunks
