"""pandera schemas of the stored rows; the Dagster asset checks validate every new version."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa


def _is_chat(messages: Any, roles: tuple[str, ...]) -> bool:
    return (
        isinstance(messages, list)
        and len(messages) > 0
        and all(isinstance(m, dict) and m.get("role") in roles and isinstance(m.get("content"), str) and m["content"].strip() for m in messages)
    )


def _has_user_and_assistant(messages: Any) -> bool:
    roles = [m.get("role") for m in messages] if isinstance(messages, list) else []
    return "user" in roles and roles[-1:] == ["assistant"]


def _no_document_in_both_splits(df: pd.DataFrame) -> bool:
    return bool((df.groupby("document_id")["split"].nunique() <= 1).all())


SPLIT = pa.Column(str, pa.Check.isin(["train", "test"]))

INSTRUCTION_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(str, unique=True),
        "messages": pa.Column(object, [
            pa.Check(lambda s: s.map(lambda m: _is_chat(m, ("system", "user", "assistant"))), error="messages are chat turns with text"),
            pa.Check(lambda s: s.map(_has_user_and_assistant), error="a user turn and a final assistant answer"),
        ]),
        "document_id": pa.Column(str, pa.Check.str_length(min_value=1)),
        "document_hash": pa.Column(str, pa.Check.str_length(min_value=1)),
        "platform": pa.Column(str),
        "category": pa.Column(str),
        "task": pa.Column(str),
        "split": SPLIT,
    },
    checks=[pa.Check(_no_document_in_both_splits, error="a document appears in both splits")],
    name="instruction_dataset",
    strict=True,
)

PREFERENCE_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(str, unique=True),
        "prompt": pa.Column(object, pa.Check(lambda s: s.map(lambda m: _is_chat(m, ("system", "user"))), error="prompt is user turns")),
        "chosen": pa.Column(object, pa.Check(lambda s: s.map(lambda m: _is_chat(m, ("assistant",))), error="chosen is one assistant turn")),
        "rejected": pa.Column(object, pa.Check(lambda s: s.map(lambda m: _is_chat(m, ("assistant",))), error="rejected is one assistant turn")),
        "document_id": pa.Column(str),
        "split": SPLIT,
    },
    checks=[
        pa.Check(lambda df: df["chosen"].map(str) != df["rejected"].map(str), error="chosen differs from rejected"),
        pa.Check(_no_document_in_both_splits, error="a document appears in both splits"),
    ],
    name="preference_dataset",
    strict=True,
)


def validate(schema: pa.DataFrameSchema, rows: list[dict[str, Any]]) -> list[str]:
    """Every schema failure as a readable line; [] when the rows are valid."""
    frame = pd.DataFrame(rows, columns=list(schema.columns))
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return [f"{row.column or 'rows'}: {row.check} (e.g. {row.failure_case!r})" for row in cases.head(20).itertuples()]
    return []
