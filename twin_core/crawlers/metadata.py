"""Title, author and date of an article page, from whatever the page says about itself.

Every rule reads ``PageFacts``: the meta tags, the JSON-LD objects, the canonical URL, the text of
a CSS selection and the inline state scripts. The same rules then run on any HTML parser (the
extractors use Lexbor; the benchmark's BeautifulSoup baseline implements the same facts), and
the order of sources is written once:

- title: the platform's own heading, then JSON-LD ``headline``, ``og:title``, ``<title>``, each
  without a site suffix (" | by <author> | Medium", " | <author> | LinkedIn", " - <site>");
- author: JSON-LD (``@id`` references resolved, several authors joined), the platform's state
  (Medium's Apollo state, Substack's preloads), ``meta[name=author]``, ``article:author`` when it
  is a name, then a byline inside the article (never a sidebar's or a comment's), badge words
  ("Influencer", "Follow") removed;
- date: JSON-LD ``datePublished``, Medium's ``firstPublishedAt``, Substack's ``post_date``, then
  ``article:published_time`` (often the modified date), ``itemprop=datePublished``,
  ``<time datetime>`` inside the article, and a visible "Published <date>" last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

ARTICLE_TYPES = frozenset({
    "Article", "NewsArticle", "BlogPosting", "SocialMediaPosting", "TechArticle", "Report",
    "ScholarlyArticle", "AnalysisNewsArticle", "OpinionNewsArticle", "ReportageNewsArticle", "LiveBlogPosting",
})
PLATFORM_NAMES = frozenset({"medium", "linkedin", "substack", "pulse"})
# Words a byline carries that are not part of the name.
BADGES = re.compile(r"\s*\b(?:LinkedIn )?(?:Influencer|Top Voice|Top Writer|Verified|Follow|Following|Author|Premium)\b\s*", re.I)
SEPARATORS = re.compile(r"\s+(?:\||-|–|—|·|::)\s+")


class PageFacts(Protocol):
    metas: dict[str, str]
    canonical: str | None

    def ld_objects(self) -> list[dict[str, Any]]: ...

    def text(self, selector: str) -> str | None: ...

    def script(self, marker: str) -> str | None:
        """The text of the first inline script containing ``marker``."""
        ...

    def visible_text(self) -> str: ...


# --- JSON-LD ----------------------------------------------------------------------------------


def flatten_ld(blocks: Iterable[str]) -> list[dict[str, Any]]:
    """Every JSON-LD object of the page, ``@graph`` and lists flattened; broken blocks ignored."""
    found: list[dict[str, Any]] = []
    for block in blocks:
        try:
            data = json.loads(block or "null")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                graph = item.get("@graph")
                if graph is not None:
                    stack.extend(graph if isinstance(graph, list) else [graph])
                found.append(item)
    return found


def _types(item: dict[str, Any]) -> set[str]:
    kinds = item.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return {kind for kind in kinds if isinstance(kind, str)}


def ld_article(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next((item for item in objects if _types(item) & ARTICLE_TYPES), {})


def ld_authors(article: dict[str, Any], objects: list[dict[str, Any]]) -> list[str]:
    """Names of the article's authors; ``{"@id": ...}`` references resolved against the graph."""
    by_id = {item["@id"]: item for item in objects if isinstance(item.get("@id"), str)}
    value = article.get("author") or article.get("creator")
    names: list[str] = []
    for entry in value if isinstance(value, list) else [value]:
        if isinstance(entry, dict) and "name" not in entry and isinstance(entry.get("@id"), str):
            entry = by_id.get(entry["@id"], entry)
        if isinstance(entry, dict) and "Organization" in _types(entry):
            continue
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str) and (name := clean_author(name)) and name not in names:
            names.append(name)
    return names


# --- platform state ---------------------------------------------------------------------------


def _json_after(script: str, marker: str) -> Any:
    """The JSON value that follows ``marker`` in a script (``= {...}`` or ``JSON.parse("...")``)."""
    start = script.find(marker)
    if start < 0:
        return None
    rest = script[start + len(marker):].lstrip(" =(\n")
    decoder = json.JSONDecoder()
    try:
        if rest.startswith("JSON.parse("):
            text, _ = decoder.raw_decode(rest[len("JSON.parse("):])
            return json.loads(text) if isinstance(text, str) else None
        value, _ = decoder.raw_decode(rest)
        return value
    except ValueError:
        return None


def _epoch_ms(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        try:
            return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="seconds")
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


MEDIUM_POST_ID = re.compile(r"(?:^|[/-])([0-9a-f]{10,12})$")


def medium_post(facts: PageFacts) -> dict[str, Any]:
    """This page's post in Medium's inline state: ``{"date", "author", "title"}``. The state
    holds every post the page shows (sidebars too), so the post is found by the page's id."""
    post_id = None
    for url in (facts.canonical, facts.metas.get("og:url"), facts.metas.get("al:android:url")):
        if url and (match := MEDIUM_POST_ID.search(urlsplit(url).path.rstrip("/") or url)):
            post_id = match.group(1)
            break
    if (script := facts.script("window.__APOLLO_STATE__")) is not None:
        state = _json_after(script, "window.__APOLLO_STATE__")
        if isinstance(state, dict):
            post = state.get(f"Post:{post_id}") if post_id else None
            if not isinstance(post, dict):
                return {}
            creator = post.get("creator")
            ref = creator.get("__ref") if isinstance(creator, dict) else None
            user = state.get(ref) if isinstance(ref, str) else creator
            return {"date": _epoch_ms(post.get("firstPublishedAt")), "title": _str(post.get("title")),
                    "author": _str(user.get("name")) if isinstance(user, dict) else None}
    if (script := facts.script('window["obvInit"]')) is not None:  # 2015-17 pages
        data = _json_after(script, 'window["obvInit"]')
        value = data.get("value") if isinstance(data, dict) else None
        if isinstance(value, dict) and (post_id is None or value.get("id") == post_id):
            creator = value.get("creator")
            return {"date": _epoch_ms(value.get("firstPublishedAt")), "title": _str(value.get("title")),
                    "author": _str(creator.get("name")) if isinstance(creator, dict) else None}
    return {}


def substack_post(facts: PageFacts) -> dict[str, Any]:
    """This page's post in Substack's ``window._preloads``: ``{"date", "author", "title"}``."""
    script = facts.script("window._preloads")
    preloads = _json_after(script, "window._preloads") if script else None
    post = preloads.get("post") if isinstance(preloads, dict) else None
    if not isinstance(post, dict):
        return {}
    bylines = post.get("publishedBylines")
    names = [b["name"] for b in bylines if isinstance(b, dict) and isinstance(b.get("name"), str)] if isinstance(bylines, list) else []
    return {"date": _str(post.get("post_date")), "title": _str(post.get("title")), "author": ", ".join(names) or None}


def platform_state(facts: PageFacts, platform: str) -> dict[str, Any]:
    if platform == "medium":
        return medium_post(facts)
    if platform == "substack":
        return substack_post(facts)
    return {}


# --- titles -----------------------------------------------------------------------------------


def strip_site_suffix(title: str, known: Iterable[str]) -> str:
    """Drop trailing " | by <author> | Medium"-style parts naming the site, the platform or the
    author; a title with no such part is returned as it is."""
    names = {clean_inline(n).casefold() for n in known if n} | PLATFORM_NAMES
    text = title.strip()
    while matches := list(SEPARATORS.finditer(text)):
        last = matches[-1]
        tail = text[last.end():].strip().casefold()
        if tail not in names and tail.removeprefix("by ").strip() not in names:
            break
        text = text[: last.start()].rstrip()
    return text


def title(facts: PageFacts, heading: str | None, state: dict[str, Any], authors: list[str]) -> str:
    article = ld_article(facts.ld_objects())
    known = [facts.metas.get("og:site_name", ""), *authors]
    publisher = article.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        known.append(publisher["name"])
    for candidate in (heading, state.get("title"), article.get("headline"), facts.metas.get("og:title"),
                      facts.metas.get("twitter:title"), facts.text("title"), facts.text("h1")):
        if isinstance(candidate, str) and candidate.strip():
            return strip_site_suffix(clean_inline(candidate), known)
    return ""


# --- authors ----------------------------------------------------------------------------------


def clean_inline(text: str) -> str:
    return " ".join(text.split())


def clean_author(name: str) -> str:
    name = clean_inline(name)
    name = re.sub(r"^(?:by|written by|von|par)\s+", "", name, flags=re.I)
    name = BADGES.sub(" ", name)
    name = re.split(r"\s+[·|•]\s+|\s{2,}", name)[0]
    return clean_inline(name).strip(" ,;·")


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "/"))


def author(facts: PageFacts, state: dict[str, Any], bylines: Iterable[str | None] = ()) -> str | None:
    objects = facts.ld_objects()
    names = ld_authors(ld_article(objects), objects)
    if names:
        return ", ".join(names)
    candidates: list[str | None] = [state.get("author"), facts.metas.get("author"), facts.metas.get("article:author"),
                                    facts.metas.get("parsely-author"), facts.metas.get("sailthru.author")]
    if facts.metas.get("twitter:label1", "").lower() == "written by":
        candidates.append(facts.metas.get("twitter:data1"))
    candidates.extend(bylines)
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip() and not _is_url(candidate.strip()):
            name = clean_author(candidate)
            if name and len(name) <= 80:
                return name
    return None


# --- dates ------------------------------------------------------------------------------------

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
PUBLISHED_DATE = re.compile(
    rf"\b(?:Published|Posted)(?:\s+on)?[\s:]+((?:{MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+(?:{MONTHS})\.?,?\s+\d{{4}})"
)


def parse_visible_date(text: str) -> str | None:
    value = re.sub(r"[.,]", " ", text)
    value = " ".join(value.replace("Sept", "Sep").split())
    for fmt in ("%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC).isoformat(timespec="seconds")
        except ValueError:
            continue
    return None


def published(facts: PageFacts, state: dict[str, Any], scoped_time: str | None = None) -> str | None:
    """The first publication date, as the page states it (ISO text or a visible date)."""
    article = ld_article(facts.ld_objects())
    for value in (article.get("datePublished"), state.get("date"), facts.metas.get("article:published_time"),
                  facts.metas.get("datePublished"), facts.metas.get("parsely-pub-date"), scoped_time,
                  article.get("dateCreated")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    match = PUBLISHED_DATE.search(facts.visible_text())
    return parse_visible_date(match.group(1)) if match else None
