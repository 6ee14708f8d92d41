"""RSS 2.0 and Atom feeds (Medium, Substack and blogs): entries with their full HTML content."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from twin_core.crawlers.common import CrawlReport, iso_date
from twin_core.crawlers.html import CHROME, ExtractionError, fragment_text
from twin_core.documents import Document

NS = {
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "atom": "http://www.w3.org/2005/Atom",
}


@dataclass(frozen=True)
class FeedEntry:
    title: str
    link: str
    published: str | None
    author: str | None
    html: str  # full content when the feed carries it, else the summary


def _text(node: ET.Element | None) -> str:
    return (node.text or "").strip() if node is not None else ""


def parse_feed(xml: str | bytes) -> list[FeedEntry]:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    try:
        # A feed never needs a DTD; refusing any (wherever it sits) rules out entity expansion
        # and external entities, which a byte-prefix check cannot.
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise ExtractionError("feed declares a DTD or entities; refused") from None
    except ET.ParseError as error:
        raise ExtractionError(f"not a valid feed ({error})") from None
    entries = []
    if root.tag == "rss" or root.find("channel") is not None:
        for item in root.iter("item"):
            entries.append(FeedEntry(
                title=_text(item.find("title")),
                link=_text(item.find("link")) or _text(item.find("guid")),
                published=_text(item.find("pubDate")) or None,
                author=_text(item.find("dc:creator", NS)) or _text(item.find("author")) or None,
                html=_text(item.find("content:encoded", NS)) or _text(item.find("description")),
            ))
    elif root.tag == "{http://www.w3.org/2005/Atom}feed":
        for entry in root.findall("atom:entry", NS):
            link = entry.find("atom:link[@rel='alternate']", NS)
            if link is None:
                link = entry.find("atom:link", NS)
            content = entry.find("atom:content", NS)
            entries.append(FeedEntry(
                title=_text(entry.find("atom:title", NS)),
                link=link.get("href", "") if link is not None else "",
                published=_text(entry.find("atom:published", NS)) or _text(entry.find("atom:updated", NS)) or None,
                author=_text(entry.find("atom:author/atom:name", NS)) or None,
                html=_text(content) or _text(entry.find("atom:summary", NS)),
            ))
    else:
        raise ExtractionError(f"not an RSS or Atom feed (root element <{root.tag}>)")
    return entries


def feed_documents(xml: str | bytes, *, platform: str, author: str, drop: str | None = None) -> CrawlReport:
    """Documents from a feed's entries; entries without content are reported, not fatal."""
    report = CrawlReport()
    for entry in parse_feed(xml):
        text = fragment_text(entry.html, drop or CHROME)
        if text.startswith(entry.title + "\n\n"):
            text = text[len(entry.title) + 2:]
        if not text or not entry.link:
            report.fail(entry.link or entry.title or "feed entry", "feed entry has no content or link")
            continue
        report.documents.append(Document.create(
            platform=platform, category="article", author=author, url=entry.link, title=entry.title,
            content=text, published_at=iso_date(entry.published), extra={"source": "feed"},
        ))
    return report
