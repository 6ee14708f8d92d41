"""Lean HTML helpers on Lexbor: block text, meta tags, JSON-LD.

Extraction walks only the nodes it needs (one CSS query for the blocks, a short parent walk to
skip nested ones), which keeps it many times faster than a BeautifulSoup tree walk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser, LexborNode

from twin_core.crawlers.metadata import flatten_ld, ld_article

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
    """A parsed page and the facts ``metadata`` reads from it (meta tags in one tag lookup; the
    JSON-LD objects and inline scripts only when a rule asks for them)."""

    __slots__ = ("html", "tree", "metas", "canonical", "_ld")

    def __init__(self, html: str):
        self.html = html
        self.tree = parse(html)
        self.metas: dict[str, str] = {}
        for node in self.tree.tags("meta"):  # a tag lookup, cheaper than a CSS query
            attrs = node.attributes
            key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
            content = (attrs.get("content") or "").strip()
            if key and content and key not in self.metas:
                self.metas[key] = content
        self.canonical: str | None = None
        for node in self.tree.tags("link"):
            if (node.attributes.get("rel") or "").lower() == "canonical" and node.attributes.get("href"):
                self.canonical = node.attributes["href"]
                break
        self._ld: list[dict[str, Any]] | None = None

    def meta(self, *names: str) -> str | None:
        return next((self.metas[n] for n in names if n in self.metas), None)

    def ld_objects(self) -> list[dict[str, Any]]:
        if self._ld is None:
            blocks = []
            if "application/ld+json" in self.html:
                blocks = [s.text(deep=True) for s in self.tree.tags("script") if s.attributes.get("type") == "application/ld+json"]
            self._ld = flatten_ld(blocks)
        return self._ld

    @property
    def article(self) -> dict[str, Any]:
        return ld_article(self.ld_objects())

    def text(self, selector: str) -> str | None:
        return text_of(self.tree, selector)

    def script(self, marker: str) -> str | None:
        if marker not in self.html:  # a substring search costs less than visiting every script
            return None
        found = None
        for node in self.tree.tags("script"):
            text = node.text(deep=True)
            if text.lstrip().startswith(marker):  # the assignment itself, not code that reads it
                return text
            if found is None and marker in text:
                found = text
        return found

    def visible_text(self) -> str:
        body = self.tree.body
        return body.text(deep=True, separator=" ") if body is not None else ""


def text_of(tree: LexborHTMLParser | LexborNode, selector: str) -> str | None:
    node = css_first(tree, selector)
    if node is None:
        return None
    text = clean_inline(node.text(deep=True, separator=""))
    return text or None


def fragment_text(fragment: str, drop: str = CHROME) -> str:
    """Block text of an HTML fragment (a feed entry, an API ``body_html``, an export file)."""
    root = parse(f"<html><body>{fragment}</body></html>").body
    if root is None:
        return ""
    remove(root, drop)
    break_lines(root)
    return join_blocks(blocks(root))
