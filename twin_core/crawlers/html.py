"""Lean HTML helpers on Lexbor: block text, meta tags, JSON-LD.

Extraction walks only the nodes it needs (one CSS query for the blocks, a short parent walk to
skip nested ones), which keeps it many times faster than a BeautifulSoup tree walk.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser, LexborNode

BLOCKS = "h1,h2,h3,h4,h5,h6,p,pre,li,blockquote"
CONTAINERS = frozenset({"li", "blockquote", "ul", "ol", "div", "section", "figure"})
# Never the author's words: page chrome, scripts, forms, embeds.
CHROME = "script,style,noscript,template,nav,form,button,iframe,svg,aside,figure,dialog"


_local = threading.local()


def _selector() -> LexborCSSSelector:
    # One selector engine per thread, shared by every page: creating one per parsed page (what
    # ``node.css`` does) costs more than parsing a typical article.
    engine = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = LexborCSSSelector()
    return engine


def _node(target: LexborHTMLParser | LexborNode) -> LexborNode:
    return target.root if isinstance(target, LexborHTMLParser) else target


def css(target: LexborHTMLParser | LexborNode, query: str) -> list[LexborNode]:
    return _selector().find(query, _node(target))


def css_first(target: LexborHTMLParser | LexborNode, query: str) -> LexborNode | None:
    found = _selector().find_first(query, _node(target))
    return found[0] if found else None


class ExtractionError(ValueError):
    """The page was fetched but holds no extractable document (one-line reason)."""


def parse(html: str) -> LexborHTMLParser:
    return LexborHTMLParser(html)


def clean_inline(text: str) -> str:
    """Collapse runs of whitespace inside a paragraph, keeping line breaks from ``<br>``."""
    if "\n" in text:
        lines = (" ".join(line.split()) for line in text.split("\n"))
        return "\n".join(line for line in lines if line)
    return " ".join(text.split())


def node_text(node: LexborNode) -> str:
    if node.tag == "pre":
        return node.text(deep=True, separator="", strip=False).strip("\n")
    # separator="" rejoins drop caps (<span>T</span>he) and inline markup without stray spaces.
    return clean_inline(node.text(deep=True, separator="", strip=False))


def remove(root: LexborNode, selector: str) -> None:
    # One query for the whole selector: on a real page every part can match somewhere, and a
    # query over a parsed tree costs less than scanning the page text for each part first.
    for node in css(root, selector):
        node.decompose()


def break_lines(root: LexborNode) -> None:
    """Each ``<br>`` becomes a line break in the text."""
    if not root.parser.tags("br"):  # most pages have none: a tag lookup costs less than a query
        return
    for br in css(root, "br"):
        br.replace_with("\n")


def blocks(
    root: LexborNode,
    selector: str = BLOCKS,
    *,
    skip_texts: Iterable[str] = (),
    nodes: list[LexborNode] | None = None,
) -> list[str]:
    """Text of each block under ``root`` in document order; a block inside another selected
    block (``li > p``, ``blockquote > p``) is part of its outer block, not repeated."""
    found = nodes if nodes is not None else css(root, selector)
    if not found:
        return []
    stop = root.mem_id
    skip = set(skip_texts)
    containers: set[int] = set()  # kept blocks that can hold other blocks (li, blockquote)
    out: list[str] = []
    for node in found:
        if containers:
            # Only blocks after a container can be inside one: walk up only then.
            parent, nested = node.parent, False
            while parent is not None and parent.mem_id != stop:
                if parent.mem_id in containers:
                    nested = True
                    break
                parent = parent.parent
            if nested:
                continue
        if node.tag in CONTAINERS:
            containers.add(node.mem_id)
        text = node_text(node)
        if text and text not in skip and (not out or out[-1] != text):
            out.append(text)
    return out


def join_blocks(parts: list[str]) -> str:
    return "\n\n".join(parts)


class Page:
    """A parsed page with its meta tags (read in one query) and its JSON-LD article object."""

    __slots__ = ("tree", "metas", "article")

    def __init__(self, html: str):
        self.tree = parse(html)
        self.metas: dict[str, str] = {}
        for node in self.tree.tags("meta"):  # a tag lookup, cheaper than a CSS query
            attrs = node.attributes
            key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
            content = (attrs.get("content") or "").strip()
            if key and content and key not in self.metas:
                self.metas[key] = content
        self.article = ld_article(self.tree) if "application/ld+json" in html else {}

    def meta(self, *names: str) -> str | None:
        return next((self.metas[n] for n in names if n in self.metas), None)


def json_ld(tree: LexborHTMLParser) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, ``@graph`` and lists flattened; broken blocks ignored."""
    found: list[dict[str, Any]] = []
    for script in tree.tags("script"):
        if script.attributes.get("type") != "application/ld+json":
            continue
        try:
            data = json.loads(script.text(deep=True) or "null")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if "@graph" in item:
                    stack.extend(item["@graph"] if isinstance(item["@graph"], list) else [item["@graph"]])
                found.append(item)
    return found


ARTICLE_TYPES = {"Article", "NewsArticle", "BlogPosting", "SocialMediaPosting", "TechArticle", "Report", "ScholarlyArticle"}


def ld_article(tree: LexborHTMLParser) -> dict[str, Any]:
    for item in json_ld(tree):
        kinds = item.get("@type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        if kinds & ARTICLE_TYPES:
            return item
    return {}


def ld_author(article: dict[str, Any]) -> str | None:
    author = article.get("author")
    if isinstance(author, list):
        author = author[0] if author else None
    if isinstance(author, dict):
        author = author.get("name")
    return author.strip() if isinstance(author, str) and author.strip() else None


def text_of(tree: LexborHTMLParser | LexborNode, selector: str) -> str | None:
    node = css_first(tree, selector)
    if node is None:
        return None
    text = clean_inline(node.text(deep=True, separator=""))
    return text or None


def page_title(page: Page) -> str | None:
    headline = page.article.get("headline")
    if isinstance(headline, str) and headline.strip():
        return headline.strip()
    return page.meta("og:title", "twitter:title") or text_of(page.tree, "title") or text_of(page.tree, "h1")


def published(page: Page) -> str | None:
    """JSON-LD ``datePublished`` first: ``article:published_time`` is often the modified date."""
    if isinstance(page.article.get("datePublished"), str):
        return page.article["datePublished"]
    value = page.meta("article:published_time", "datePublished", "date")
    if value:
        return value
    node = css_first(page.tree, "time[datetime], [itemprop=datePublished][datetime]")
    return node.attributes.get("datetime") if node is not None else None


def fragment_text(fragment: str, drop: str = CHROME) -> str:
    """Block text of an HTML fragment (a feed entry, an API ``body_html``, an export file)."""
    root = parse(f"<html><body>{fragment}</body></html>").body
    if root is None:
        return ""
    remove(root, drop)
    break_lines(root)
    return join_blocks(blocks(root))
