"""Self-query: metadata filters (author, platform, category) read from the prompt.

The rule-based reader is the offline default. It only filters on phrases that name a *source*
("from my Medium articles", "in my GitHub repos"); "write a LinkedIn post" names the output
format and does not narrow retrieval. An LLM reader is used when a generator is configured; its
answer is validated and falls back to the rules when unusable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

PLATFORMS = ("linkedin", "medium", "substack", "github", "web")
_CATEGORY_WORDS = {
    "post": "post", "posts": "post",
    "article": "article", "articles": "article", "essay": "article", "essays": "article",
    "repo": "repository", "repos": "repository", "repository": "repository",
    "repositories": "repository", "code": "repository",
}
_OWNER = r"(?:my|his|her|their|the|our|\w+'s)"
_SOURCE_PLATFORM = re.compile(
    rf"\b(?:from|in|on|of|across)\s+{_OWNER}\s+(linkedin|medium|substack|github)\b"
    rf"(?:\s+(posts?|articles?|repos?|repositor(?:y|ies)|code|essays?))?",
    re.IGNORECASE,
)
_SOURCE_CATEGORY = re.compile(
    rf"\b(?:from|in|of|across)\s+{_OWNER}\s+(?:past\s+|old\s+|previous\s+|own\s+)?"
    r"(posts|articles|essays|repos|repositories|code)\b",
    re.IGNORECASE,
)


def milvus_string(value: str) -> str:
    """A double-quoted Milvus string literal (only backslash and quote are escaped)."""
    if any(ord(c) < 0x20 for c in value):
        raise ValueError("filter values may not contain control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class QueryFilters:
    author: str | None = None
    platform: str | None = None
    category: str | None = None

    def expression(self) -> str | None:
        """A Milvus boolean expression, or None for no filter."""
        parts = [
            f"{field} == {milvus_string(value)}"
            for field, value in (("author", self.author), ("platform", self.platform),
                                 ("category", self.category))
            if value
        ]
        return " and ".join(parts) or None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("author", self.author), ("platform", self.platform),
                                  ("category", self.category)) if v}


def _find_author(prompt: str, known_authors: Iterable[str]) -> str | None:
    lowered = prompt.lower()
    # Longest names first, so "Ada Lovelace" wins over "Ada".
    for name in sorted({a for a in known_authors if a}, key=len, reverse=True):
        if re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", lowered):
            return name
    return None


def extract_filters(prompt: str, known_authors: Iterable[str] = ()) -> QueryFilters:
    """Rule-based self-query."""
    platform = category = None
    if match := _SOURCE_PLATFORM.search(prompt):
        platform = match.group(1).lower()
        if match.group(2):
            category = _CATEGORY_WORDS.get(match.group(2).lower())
    if category is None and (match := _SOURCE_CATEGORY.search(prompt)):
        category = _CATEGORY_WORDS.get(match.group(1).lower())
    return QueryFilters(_find_author(prompt, known_authors), platform, category)


LLM_PROMPT = (
    "Read the request and answer with one JSON object with the keys author, platform and "
    "category. Use null unless the request restricts which of the author's past writing to "
    "use. platform is one of linkedin, medium, substack, github; category is one of post, "
    "article, repository. Known authors: {authors}.\nRequest: {prompt}\nJSON:"
)


def parse_llm_filters(text: str, known_authors: Iterable[str] = ()) -> QueryFilters | None:
    """Filters from an LLM answer; None when the answer is not usable."""
    match = re.search(r"\{.*?\}", text, re.DOTALL)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    authors = {a.lower(): a for a in known_authors}
    author = data.get("author")
    author = authors.get(author.lower()) if isinstance(author, str) else None
    platform = data.get("platform")
    platform = platform.lower() if isinstance(platform, str) and platform.lower() in PLATFORMS else None
    category = data.get("category")
    category = _CATEGORY_WORDS.get(category.lower()) if isinstance(category, str) else None
    return QueryFilters(author, platform, category)


def merge(request: QueryFilters, extracted: QueryFilters) -> QueryFilters:
    """Explicit request fields win over what was read from the prompt."""
    return QueryFilters(
        request.author or extracted.author,
        request.platform or extracted.platform,
        request.category or extracted.category,
    )
