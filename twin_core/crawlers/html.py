"""Lean HTML helpers on Lexbor: block text, meta tags, JSON-LD.

Extraction walks only the nodes it needs (one CSS query for the blocks, a short parent walk to
skip nested ones), which keeps it many times faster than a BeautifulSoup tree walk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

BLOCKS = "h1,h2,h3,h4,h5,h6,p,pre,li,blockquote"
# Never the author's words: page chrome, scripts, forms, embeds.
CHROME = "script,style,noscript,template,nav,form,button,iframe,svg,aside,figure,dialog"


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
    for node in root.css(selector):
        node.decompose()


def break_lines(root: LexborNode) -> None:
    for br in root.css("br"):
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
    found = nodes if nodes is not None else root.css(selector)
    if not found:
        return []
    ids = {n.mem_id for n in found}
    stop = root.mem_id
    skip = set(skip_texts)
    out: list[str] = []
    for node in found:
        parent = node.parent
        nested = False
        while parent is not None and parent.mem_id != stop:
            if parent.mem_id in ids:
                nested = True
                break
            parent = parent.parent
        if nested:
            continue
        text = node_text(node)
        if text and text not in skip and (not out or out[-1] != text):
            out.append(text)
    return out


def join_blocks(parts: list[str]) -> str:
    return "\n\n".join(parts)


def meta(tree: LexborHTMLParser, *names: str) -> str | None:
    for name in names:
        node = tree.css_first(f'meta[property="{name}"]') or tree.css_first(f'meta[name="{name}"]')
        if node is not None:
            value = (node.attributes.get("content") or "").strip()
            if value:
                return value
    return None


def json_ld(tree: LexborHTMLParser) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, ``@graph`` and lists flattened; broken blocks ignored."""
    found: list[dict[str, Any]] = []
    for script in tree.css('script[type="application/ld+json"]'):
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
    node = tree.css_first(selector)
    if node is None:
        return None
    text = clean_inline(node.text(deep=True, separator=""))
    return text or None


def page_title(tree: LexborHTMLParser, article: dict[str, Any] | None = None) -> str | None:
    if article and isinstance(article.get("headline"), str) and article["headline"].strip():
        return article["headline"].strip()
    return meta(tree, "og:title", "twitter:title") or text_of(tree, "title") or text_of(tree, "h1")


def published(tree: LexborHTMLParser, article: dict[str, Any] | None = None) -> str | None:
    """JSON-LD ``datePublished`` first: ``article:published_time`` is often the modified date."""
    if article and isinstance(article.get("datePublished"), str):
        return article["datePublished"]
    value = meta(tree, "article:published_time", "datePublished", "date")
    if value:
        return value
    node = tree.css_first('[itemprop="datePublished"]')
    if node is not None and (value := node.attributes.get("content") or node.attributes.get("datetime")):
        return value
    node = tree.css_first("time[datetime]")
    return node.attributes.get("datetime") if node is not None else None


def fragment_text(fragment: str, drop: str = CHROME) -> str:
    """Block text of an HTML fragment (a feed entry, an API ``body_html``, an export file)."""
    root = parse(f"<html><body>{fragment}</body></html>").body
    if root is None:
        return ""
    remove(root, drop)
    break_lines(root)
    return join_blocks(blocks(root))
