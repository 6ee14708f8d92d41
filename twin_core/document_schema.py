"""The document contract as a pandera schema, checked on ``raw_documents`` (pandas imported lazily)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twin_core.documents import CATEGORIES, PLATFORMS, Document, content_hash, document_id


def schema() -> Any:
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "id": pa.Column(str, pa.Check.str_matches(r"^[0-9a-f]{32}$"), unique=True),
            "platform": pa.Column(str, pa.Check.isin(PLATFORMS)),
            "category": pa.Column(str, pa.Check.isin(CATEGORIES)),
            "author": pa.Column(str, pa.Check.str_length(min_value=1)),
            "url": pa.Column(str, pa.Check.str_matches(r"^(https?|file)://")),
            "title": pa.Column(str),
            "content": pa.Column(str, pa.Check.str_length(min_value=1)),
            "published_at": pa.Column(str, nullable=True),
            "fetched_at": pa.Column(str, pa.Check.str_length(min_value=10)),
            "content_hash": pa.Column(str, pa.Check.str_matches(r"^[0-9a-f]{64}$")),
            "id_matches_url": pa.Column(bool, pa.Check.eq(True)),
            "hash_matches_content": pa.Column(bool, pa.Check.eq(True)),
        },
        strict=True,
        coerce=False,
    )


def frame(documents: Iterable[Document]) -> Any:
    import pandas as pd

    columns = ["id", "platform", "category", "author", "url", "title", "content", "published_at",
               "fetched_at", "content_hash", "id_matches_url", "hash_matches_content"]
    rows = [
        {
            **{name: getattr(doc, name) for name in columns[:10]},
            "id_matches_url": doc.id == document_id(doc.platform, doc.url, doc.author),
            "hash_matches_content": doc.content_hash == content_hash(doc.title, doc.content, doc.files),
        }
        for doc in documents
    ]
    return pd.DataFrame(rows, columns=columns).astype({"published_at": "object"})


def validate(documents: Iterable[Document]) -> list[str]:
    """Schema violations as readable lines (empty when every document passes)."""
    import pandera.errors

    data = frame(documents)
    if data.empty:
        return []
    try:
        schema().validate(data, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return [
            f"{row.column}: {row.check} failed for {str(row.failure_case)[:80]!r}"
            for row in cases.head(20).itertuples()
        ]
    return []
