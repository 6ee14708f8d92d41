"""Quality filters: length bounds, exact and near-duplicate removal, boilerplate answers.

Each filter returns the kept examples and how many it dropped, so the manifest can say why a
dataset is smaller than its documents.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import asdict, dataclass

from twin_core.datasets.examples import Example

BOILERPLATE_PATTERNS = [
    r"\bsubscribe\b", r"\bthanks? (you )?for reading\b", r"\bfollow me\b", r"\bclick here\b",
    r"\ball rights reserved\b", r"\bsign up\b", r"\bshare this (post|article)\b",
    r"\blink in (the )?(bio|comments?)\b", r"\bcookie", r"\bnewsletter\b", r"\bleave a comment\b",
]
_BOILERPLATE = re.compile("|".join(BOILERPLATE_PATTERNS), flags=re.IGNORECASE)
_NOISE_TOKEN = re.compile(r"^(https?://\S+|www\.\S+|#\w+|@\w+)$")
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class FilterSettings:
    min_answer_chars: int = 40
    max_answer_chars: int = 4000
    min_instruction_chars: int = 8
    max_instruction_chars: int = 6000
    near_duplicate_threshold: float = 0.8
    boilerplate_max_chars: int = 300

    def to_dict(self) -> dict:
        return asdict(self)


def is_boilerplate(answer: str, max_chars: int = 300) -> bool:
    """A short call to action (subscribe, follow me, ...) or an answer made mostly of links/tags."""
    tokens = answer.split()
    if not tokens:
        return True
    noise = sum(1 for token in tokens if _NOISE_TOKEN.match(token))
    if noise / len(tokens) > 0.5:
        return True
    return len(answer) <= max_chars and _BOILERPLATE.search(answer) is not None


def shingles(text: str, size: int = 3) -> set[str]:
    words = [w.lower() for w in _WORDS.findall(text)]
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _minhash(items: set[str], permutations: int = 64) -> tuple[int, ...]:
    hashes = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in items] or [0]
    mask = (1 << 64) - 1
    return tuple(
        min(((h ^ (seed * 0x9E3779B97F4A7C15)) * (2 * seed + 1)) & mask for h in hashes)
        for seed in range(1, permutations + 1)
    )


def near_duplicate_answers(answers: list[str], threshold: float, bands: int = 16) -> set[int]:
    """Indices of answers that nearly repeat an earlier one (word-3-gram Jaccard >= threshold).

    MinHash + LSH banding finds candidate pairs without comparing all pairs; every candidate is
    confirmed with the exact Jaccard, so banding never removes a non-duplicate.
    """
    sets = [shingles(answer) for answer in answers]
    signatures = [_minhash(s) for s in sets]
    rows = len(signatures[0]) // bands if signatures else 0
    buckets: dict[tuple, list[int]] = defaultdict(list)
    duplicates: set[int] = set()
    for index, signature in enumerate(signatures):
        candidates: set[int] = set()
        for band in range(bands):
            key = (band, signature[band * rows:(band + 1) * rows])
            candidates.update(buckets[key])
            buckets[key].append(index)
        if any(c not in duplicates and jaccard(sets[index], sets[c]) >= threshold for c in candidates):
            duplicates.add(index)
    return duplicates


def apply_filters(examples: list[Example], settings: FilterSettings) -> tuple[list[Example], dict[str, int]]:
    """Run every filter in order; returns the kept examples and the count each filter removed."""
    removed = {"length": 0, "boilerplate": 0, "exact_duplicate": 0, "near_duplicate": 0}
    kept: list[Example] = []
    for ex in examples:
        if not (settings.min_answer_chars <= len(ex.answer) <= settings.max_answer_chars) or not (
            settings.min_instruction_chars <= len(ex.instruction) <= settings.max_instruction_chars
        ):
            removed["length"] += 1
        elif is_boilerplate(ex.answer, settings.boilerplate_max_chars):
            removed["boilerplate"] += 1
        else:
            kept.append(ex)

    seen: set[tuple[str, str]] = set()
    unique: list[Example] = []
    for ex in kept:
        key = (" ".join(ex.instruction.split()).lower(), " ".join(ex.answer.split()).lower())
        if key in seen:
            removed["exact_duplicate"] += 1
        else:
            seen.add(key)
            unique.append(ex)

    # Near-duplicate answers from *other* sources (a post cross-posted on two platforms) would
    # overweight that text and leak across the split. Several instructions written for the same
    # extract share one answer on purpose and are kept together.
    first_source: dict[str, str] = {}
    for ex in unique:
        first_source.setdefault(ex.answer, ex.document_id)
    distinct = list(first_source)
    dropped = {distinct[i] for i in near_duplicate_answers(distinct, settings.near_duplicate_threshold)}
    out = []
    for ex in unique:
        if ex.answer in dropped or first_source[ex.answer] != ex.document_id:
            removed["near_duplicate"] += 1
        else:
            out.append(ex)
    return out, removed
