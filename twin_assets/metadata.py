"""Markdown tables for asset metadata: what a person reads in the Dagster UI."""

from __future__ import annotations


def md_table(header: list[str], rows: list[list[object]], width: int = 120) -> str:
    """A Markdown table; each cell on one line (newlines shown as ⏎) and cut at ``width``."""

    def cell(value: object) -> str:
        text = " ⏎ ".join(" ".join(line.split()) for line in str(value).splitlines() if line.strip())
        text = text.replace("|", "\\|")
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
