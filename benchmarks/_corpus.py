"""The shipped demo corpus (samples/) as documents, shared by the feature benchmarks."""

from __future__ import annotations

from pathlib import Path

from twin_core.documents import Document

ROOT = Path(__file__).resolve().parents[1]
AUTHOR = "Tamsin Vale"


def demo_documents() -> list[Document]:
    from twin_core.crawlers import linkedin, medium, substack

    samples = ROOT / "samples"
    documents = []
    documents += linkedin.import_export(samples / "linkedin-export", AUTHOR).documents
    documents += medium.import_export(samples / "medium-export", AUTHOR).documents
    documents += substack.import_export(samples / "substack-export", "https://boringml.substack.com", AUTHOR).documents
    if not documents:
        raise SystemExit("no sample documents found under samples/")
    return documents


def sentences(documents: list[Document]) -> list[str]:
    from twin_core.chunking import sentences as split
    from twin_core.cleaning import clean_prose

    out = []
    for document in documents:
        for paragraph in clean_prose(document.content).split("\n\n"):
            out.extend(s for s in split(paragraph) if len(s) > 20)
    return out
