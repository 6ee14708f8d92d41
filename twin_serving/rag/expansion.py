"""Query expansion: a few variants of the request, searched together in one batch.

The offline default derives variants without a model: the request itself, its topic (the words
after "about"/"on"), and its content words without the instructions around them. With a
generator configured, the LLM writes the variants; unusable answers fall back to the rules.
"""

from __future__ import annotations

import re

_STOPWORDS = frozenset(
    """a an the and or but of to in on for with about into from by at as is are was were be been
    it its this that these those my me i you your we our us they them their he she his her
    write draft compose create make give tell please post article blog thread tweet linkedin
    medium substack github using use used past content voice style new links link these my own
    in-my-voice short long some any can could would should will just""".split()  # noqa: SIM905
)
_TOPIC = re.compile(r"\b(?:about|on|regarding|covering)\s+(.+?)(?:[,.;!?]|\s+(?:in|using|with)\s+my\b|$)",
                    re.IGNORECASE)
_WORD = re.compile(r"[\w][\w'+#.-]*", re.UNICODE)


def keywords(text: str) -> str:
    words = [w for w in _WORD.findall(text) if w.lower() not in _STOPWORDS and len(w) > 1]
    return " ".join(words)


def topic(text: str) -> str | None:
    match = _TOPIC.search(text)
    return match.group(1).strip() if match else None


def _dedupe(variants: list[str], n: int) -> list[str]:
    seen, out = set(), []
    for variant in variants:
        key = " ".join(variant.lower().split())
        if variant.strip() and key not in seen:
            seen.add(key)
            out.append(variant.strip())
    return out[:n]


def expand(query: str, n: int) -> list[str]:
    """Rule-based expansion: the query first, then up to ``n - 1`` distinct variants."""
    candidates = [query]
    if found := topic(query):
        candidates.append(found)
    candidates.append(keywords(query))
    if found:
        candidates.append(f"my experience with {found}")
    return _dedupe(candidates, max(1, n))


LLM_PROMPT = (
    "Write {count} different search queries that would find passages relevant to the request "
    "below in the author's past writing. One query per line, no numbering.\nRequest: {query}\n"
    "Queries:\n"
)


def parse_llm_variants(text: str, query: str, n: int) -> list[str]:
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line) for line in text.splitlines()]
    return _dedupe([query, *lines], max(1, n))
