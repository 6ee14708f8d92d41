"""Any other article URL: title, author and date by the rules of ``metadata``, main text by
structure, and trafilatura when the structure gives too little.

The main text is the element that holds the most paragraph text (each ``<p>`` counts for its
parent, half for its grandparent), after page chrome and everything whose class names say it
is not the article (newsletter boxes, share bars, related posts, comments, paywall meters,
bylines) is removed. A page where that finds under ``MIN_CHARS`` characters goes to trafilatura
(imported only then: it is slower and pulls in date parsing libraries).
"""

from __future__ import annotations

from twin_core.crawlers import html as h
from twin_core.crawlers import metadata as meta
from twin_core.crawlers.common import iso_date
from twin_core.documents import Document
from twin_core.http_fetch import HttpFetcher

# Where the main text usually is, most specific first; used when it holds most of the text.
KNOWN_BODIES = (
    '[itemprop="articleBody"]', ".entry-content", ".post-content", ".gh-content", ".article__body",
    ".article-body", ".post-body", ".e-content", ".story-body", ".article-content",
)
NOT_ARTICLE_WORDS = (
    "newsletter", "subscribe", "signup", "sign-up", "promo", "related", "share", "sharing", "social",
    "comment", "respond", "paywall", "meter", "advert", "sponsor", "cookie", "consent", "author-bio",
    "byline", "breadcrumb", "tags", "widget", "sidebar", "recommend", "read-more", "upgrade-cta",
)
CHROME = h.CHROME + ",header,footer,.ad,[role=complementary],[role=contentinfo]"
NOT_ARTICLE = ",".join(f'[class*="{word}"],[id*="{word}"]' for word in NOT_ARTICLE_WORDS)
MIN_CHARS = 200
# The article's own heading, byline and date in page markup: hAtom/hCard microformats (Blogger,
# older WordPress themes), schema.org microdata, and the article element.
HEADINGS = ".hentry .entry-title, [itemtype*=Article] [itemprop=headline]"
BYLINES = (
    "article [rel=author], .byline [rel=author], [itemprop=author] [itemprop=name], article .author a, "
    ".hentry .author .fn, .hentry .vcard .fn"
)
DATES = "article time[datetime], main time[datetime], .hentry time.published[datetime], .hentry .published[title]"
MIN_FALLBACK_CHARS = 80  # less than a couple of sentences is a menu or a cookie notice, not an article


def _remove_unless_main(body, selector: str) -> None:
    """Remove what ``selector`` matches, except a wrapper of most of the page's paragraphs
    (``<div class="content has-sidebar">`` around the article is not a sidebar)."""
    total = len(h.css(body, "p"))
    for node in h.css(body, selector):
        if node.mem_id != body.mem_id and len(h.css(node, "p")) * 2 <= total:
            node.decompose()


def _main_node(body, shortest: int = 25):
    """The element with the most paragraph text under it (a readability-style vote); on a page
    of only short paragraphs, every paragraph votes."""
    scores: dict[int, float] = {}
    nodes: dict[int, object] = {}
    for paragraph in h.css(body, "p, pre"):
        length = len(paragraph.text(deep=True, separator="").strip())
        if length < shortest:
            continue
        parent = paragraph.parent
        for weight in (1.0, 0.5):
            if parent is None:
                break
            scores[parent.mem_id] = scores.get(parent.mem_id, 0.0) + length * weight
            nodes[parent.mem_id] = parent
            parent = parent.parent
    if not scores:
        return _main_node(body, 1) if shortest > 1 else None
    best = max(scores, key=scores.__getitem__)
    return nodes[best]


def _text_of(root, title: str) -> str:
    parts = h.blocks(root)
    while parts and (parts[0] == title or meta.clean_inline(parts[0]) == title):
        parts = parts[1:]
    return h.join_blocks(parts)


def main_text(page: h.Page, title: str) -> str:
    body = page.tree.body
    if body is None:
        raise h.ExtractionError("page has no body")
    h.remove(body, CHROME)
    _remove_unless_main(body, NOT_ARTICLE)
    h.break_lines(body)
    best = _main_node(body)
    for selector in KNOWN_BODIES:  # a named body wins when it holds the voted element
        known = h.css_first(body, selector)
        if known is not None and (best is None or _contains(known, best) or _contains(best, known)):
            best = known
            break
    text = _text_of(best, title) if best is not None else ""
    return text


def _contains(outer, inner) -> bool:
    node = inner
    while node is not None:
        if node.mem_id == outer.mem_id:
            return True
        node = node.parent
    return False


def _scoped_date(page: h.Page) -> str | None:
    node = h.css_first(page.tree, DATES)
    if node is None:
        return None
    return node.attributes.get("datetime") or node.attributes.get("title")


def trafilatura_text(html: str, url: str, title: str) -> str:
    import trafilatura

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False, favor_precision=True) or ""
    lines = [line.strip() for line in text.splitlines()]
    while lines and (not lines[0] or lines[0] == title):
        lines.pop(0)
    return h.join_blocks([line.removeprefix("- ") for line in lines if line])


def extract_article(html: str | h.Page, url: str, *, author: str | None = None, platform: str = "web") -> Document:
    page = html if isinstance(html, h.Page) else h.Page(html)
    byline = meta.author(page, {}, [h.text_of(page.tree, BYLINES)])
    title = meta.title(page, h.text_of(page.tree, HEADINGS), {}, [byline or ""])
    date = iso_date(meta.published(page, {}, _scoped_date(page)))
    text = main_text(page, title)
    extractor = "structure"
    if len(text) < MIN_CHARS:
        fallback = trafilatura_text(page.html, url, title)
        if len(fallback) > len(text) and len(fallback) >= MIN_FALLBACK_CHARS:
            text, extractor = fallback, "trafilatura"
    if not text:
        raise h.ExtractionError("no article text found")
    return Document.create(
        platform=platform,
        category="article",
        author=author or byline or "unknown",
        url=url,
        title=title,
        content=text,
        published_at=date,
        extra={"source": "page", "extractor": extractor, **({"byline": byline} if byline else {})},
    )


def crawl_article(url: str, client: HttpFetcher, *, author: str | None = None) -> Document:
    result = client.get(url)
    return extract_article(result.text, result.url, author=author)
