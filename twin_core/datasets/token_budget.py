"""Extracts sized in tokens of the base model's tokenizer.

Training truncates each example at ``max_length`` tokens. An extract measured in characters can
be far longer in tokens (code, other scripts, URLs), and a truncated answer teaches the model to
stop without its end of turn. Extracts cut here never exceed the budget: paragraphs are kept
whole where they fit, a longer paragraph is split at sentence ends, a longer sentence at words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twin_core.object_store import ObjectStore

TokenCounter = Callable[[str], int]

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Files of a model folder a tokenizer needs; the weights are never downloaded for it.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".onnx")


def token_counter(tokenizer: Any) -> TokenCounter:
    """Tokens of a text without special tokens (the chat template's are budgeted by training)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _pack(units: list[str], separator: str, count: TokenCounter, max_tokens: int) -> list[str]:
    """Consecutive units joined greedily while the joined text stays within ``max_tokens``."""
    out: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current}{separator}{unit}" if current else unit
        if current and count(candidate) > max_tokens:
            out.append(current)
            current = unit
        else:
            current = candidate
    if current:
        out.append(current)
    return out


def _split_long(paragraph: str, count: TokenCounter, max_tokens: int) -> list[str]:
    """A paragraph over the budget: its sentences packed; a sentence over it: its words packed."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if count(sentence) <= max_tokens:
            pieces.append(sentence)
        else:
            pieces.extend(_pack(sentence.split(), " ", count, max_tokens))
    return _pack(pieces, " ", count, max_tokens)


def token_sections(text: str, count: TokenCounter, max_tokens: int) -> tuple[list[str], int]:
    """``text`` cut into extracts of at most ``max_tokens`` tokens each, in order, and how many
    pieces were left out because even alone they exceed the budget (one giant "word")."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    sections: list[str] = []
    run: list[str] = []
    for paragraph in (p.strip() for p in _PARAGRAPH_BREAK.split(text)):
        if not paragraph:
            continue
        if count(paragraph) <= max_tokens:
            run.append(paragraph)
            continue
        sections.extend(_pack(run, "\n\n", count, max_tokens))
        run = []
        sections.extend(_split_long(paragraph, count, max_tokens))
    sections.extend(_pack(run, "\n\n", count, max_tokens))
    fitting = [s for s in sections if count(s) <= max_tokens]
    return fitting, len(sections) - len(fitting)


def base_tokenizer_folder(store: ObjectStore, registry_prefix: str, folder: Path) -> Path:
    """Copy only the tokenizer files of a registered model folder (``models/base/<v>/model``)
    into ``folder``: the asset that sizes extracts needs the tokenizer, not 140 GB of weights."""
    prefix = registry_prefix.rstrip("/") + "/"
    found = False
    for key in store.list_keys(prefix):
        name = key[len(prefix):]
        if "/" in name or name.endswith(_WEIGHT_SUFFIXES):
            continue
        (folder / name).write_bytes(store.get_bytes(key))
        found = True
    if not found:
        raise FileNotFoundError(f"no tokenizer files under {prefix}")
    return folder
