"""One training example: an instruction and the author's own answer, with its lineage."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Example:
    """An instruction -> answer pair. ``answer`` is always the author's own words."""

    instruction: str
    answer: str
    document_id: str
    document_hash: str
    platform: str
    category: str
    task: str  # how the instruction was made: "write_post", "continue_article", "llm", ...

    @property
    def id(self) -> str:
        key = f"{self.document_id}\0{self.instruction}\0{self.answer}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def messages(self, system: str | None = None) -> list[dict[str, str]]:
        out = [{"role": "system", "content": system}] if system else []
        return out + [
            {"role": "user", "content": self.instruction},
            {"role": "assistant", "content": self.answer},
        ]

    def to_row(self, split: str, prompt: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """The stored row: chat ``messages`` (what TRL's SFTTrainer reads) plus lineage.

        ``prompt`` (the turns before the answer, e.g. ``twin_core.prompts.twin_prompt``) replaces
        the bare instruction.
        """
        messages = [*prompt, {"role": "assistant", "content": self.answer}] if prompt else self.messages()
        return {
            "id": self.id,
            "messages": messages,
            "document_id": self.document_id,
            "document_hash": self.document_hash,
            "platform": self.platform,
            "category": self.category,
            "task": self.task,
            "split": split,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Example:
        messages = row["messages"]
        return cls(
            instruction=next(m["content"] for m in reversed(messages) if m["role"] == "user"),
            answer=next(m["content"] for m in messages if m["role"] == "assistant"),
            **{k: row[k] for k in ("document_id", "document_hash", "platform", "category", "task")},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rows_hash(rows: list[dict[str, Any]]) -> str:
    """Content hash of a dataset's rows, independent of row order: its version."""
    digest = hashlib.sha256()
    for line in sorted(json.dumps(row, sort_keys=True, ensure_ascii=False) for row in rows):
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()[:16]
