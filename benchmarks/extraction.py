"""Extraction throughput: our Lexbor extractors vs BeautifulSoup (html.parser) extracting the same
fields (title, author, date from JSON-LD/meta, body blocks from the same container) from the same
pages. Run: ``.venv/bin/python -m benchmarks.extraction``; prints pages/s and the ratio (goal >= 20x).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bs4 import BeautifulSoup

from twin_core.crawlers import linkedin, medium, substack, web

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "tests" / "collection" / "pages"
BLOCKS = "h1,h2,h3,h4,h5,h6,p,pre,li,blockquote"
CHROME = "script,style,noscript,template,nav,form,button,iframe,svg,aside,figure,dialog"

# page -> (our extractor, the body container the baseline uses, extra nodes the baseline drops)
CASES = {
    "medium_2015": (medium.extract_article, ".postArticle-content", ""),
    "medium_2019": (medium.extract_article, "article", ""),
    "medium_2022": (medium.extract_article, "article", ""),
    "substack_2020": (substack.extract_post, "div.body.markup", substack.NOT_AUTHOR),
    "substack_2022_paywall": (substack.extract_post, "div.available-content div.body.markup", substack.NOT_AUTHOR),
    "linkedin_2016": (linkedin.extract_article, '[itemprop="articleBody"]', linkedin.NOT_CONTENT),
    "linkedin_2022": (linkedin.extract_article, ".article-content__body", linkedin.NOT_CONTENT),
    "web_jsonld": (web.extract_article, "article .entry-content", web.BOILERPLATE),
}


def soup_extract(html: str, container: str, drop: str) -> dict:
    soup = BeautifulSoup(html, "html.parser")
    article: dict = {}
    for script in soup.select('script[type="application/ld+json"]'):
        try:
            data = json.loads(script.string or "null")
        except ValueError:
            continue
        items = data.get("@graph", [data]) if isinstance(data, dict) else data or []
        article = next((i for i in items if isinstance(i, dict) and "headline" in i), article)

    def meta(name: str) -> str | None:
        node = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        return node.get("content") if node else None

    title = article.get("headline") or meta("og:title") or (soup.title.get_text(strip=True) if soup.title else "")
    author = article.get("author")
    date = article.get("datePublished") or meta("article:published_time")
    root = soup.select_one(container) or soup.body
    for node in root.select(CHROME + ("," + drop if drop else "")):
        node.decompose()
    found = root.select(BLOCKS)
    ids = {id(n) for n in found}
    parts = []
    for node in found:
        if any(id(parent) in ids for parent in node.parents):
            continue
        text = node.get_text() if node.name == "pre" else " ".join(node.get_text().split())
        if text:
            parts.append(text)
    return {"title": title, "author": author, "date": date, "content": "\n\n".join(parts)}


def throughput(func, pages: list[tuple], rounds: int, repeats: int = 5) -> float:
    """Pages per second, best of ``repeats`` (the least disturbed by other load on the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(rounds):
            for args in pages:
                func(*args)
        best = min(best, time.perf_counter() - start)
    return rounds * len(pages) / best


def main(rounds: int = 30) -> float:
    ours, theirs = [], []
    for name, (extract, container, drop) in CASES.items():
        html = (PAGES / f"{name}.html").read_text()
        ours.append((extract, html, f"https://example.com/{name}"))
        theirs.append((html, container, drop))
        mine, baseline = extract(html, "https://example.com/x"), soup_extract(html, container, drop)
        assert mine.content.split("\n\n")[-1] == baseline["content"].split("\n\n")[-1], name  # same body
    lexbor = throughput(lambda f, h, u: f(h, u), ours, rounds)
    soup = throughput(soup_extract, theirs, max(1, rounds // 10))
    print(f"pages: {len(CASES)} markup generations, best of 5 repeats")
    print(f"lexbor extractors:          {lexbor:10.0f} pages/s")
    print(f"BeautifulSoup(html.parser): {soup:10.0f} pages/s")
    print(f"ratio: {lexbor / soup:.1f}x (goal >= 20x)")
    return lexbor / soup


if __name__ == "__main__":
    main()
