"""What the instruction LLM is asked, the JSON shape it is held to, and reading its reply.

The request asks for ``{"instructions": [...]}``; where the endpoint supports it,
``response_format`` constrains decoding to that schema (OpenAI and vLLM: ``json_schema`` or
``json_object``; TGI: ``json_object`` with the schema as its grammar ``value``). Endpoints that
ignore the field, and small models, still answer in free text, so the reply is read tolerantly:
the first JSON value holding strings anywhere in it, or the complete strings of a list cut off
by the token limit. One worked example in the conversation makes even a 135M model answer in
the asked shape.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

ResponseFormat = Literal["json_schema", "json_object", "tgi", "none"]
RESPONSE_FORMATS: tuple[str, ...] = ("json_schema", "json_object", "tgi", "none")

SYSTEM = (
    "You help build a dataset that teaches a model to write like a specific author. For an "
    "extract of the author's writing, you write requests a user could make so that the extract "
    "would be the perfect answer: topic requests, questions, \"write a post about ...\". Never "
    'copy the extract. Reply with JSON only: {"instructions": ["...", "..."]}.'
)
REQUEST = "Write {k} different requests for this extract.\n\nExtract:\n{extract}"

EXAMPLE_EXTRACT = (
    "I stopped estimating in story points. We now split work until every piece fits in a day, "
    "and count pieces. Our forecasts got better and planning meetings got shorter."
)
EXAMPLE_INSTRUCTIONS = (
    "Write a LinkedIn post about why you stopped estimating in story points.",
    "How do you forecast software work without story points?",
    "Share what changed in your planning meetings after you started counting small tasks.",
)


def instruction_messages(extract: str, k: int) -> list[dict[str, str]]:
    """System message, one worked example sized to ``k``, then the extract."""
    example = {"instructions": list(EXAMPLE_INSTRUCTIONS[: max(1, min(k, len(EXAMPLE_INSTRUCTIONS)))])}
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": REQUEST.format(k=len(example["instructions"]), extract=EXAMPLE_EXTRACT)},
        {"role": "assistant", "content": json.dumps(example, ensure_ascii=False)},
        {"role": "user", "content": REQUEST.format(k=k, extract=extract)},
    ]


def instructions_schema(k: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "instructions": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": k},
        },
        "required": ["instructions"],
        "additionalProperties": False,
    }


def response_format(kind: str, k: int) -> dict[str, Any] | None:
    """The request's ``response_format`` field for an endpoint of ``kind``; None: not sent."""
    if kind == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "instructions", "schema": instructions_schema(k)}}
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "tgi":
        return {"type": "json_object", "value": instructions_schema(k)}
    if kind == "none":
        return None
    raise ValueError(f"unknown response format {kind!r}; expected one of {', '.join(RESPONSE_FORMATS)}")


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_FENCE = re.compile(r"```(?:json)?", flags=re.IGNORECASE)


def _strings(value: Any) -> list[str]:
    """The instructions in a decoded JSON value: a list of strings, ``{"instructions": [...]}``,
    or items shaped ``{"instruction": "..."}``."""
    if isinstance(value, dict):
        listed = value.get("instructions")
        if listed is None:
            listed = next((v for v in value.values() if isinstance(v, list)), [])
        value = listed
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("instruction") or item.get("request") or ""
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
    return out


def _first_json_value(text: str) -> list[str]:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if found := _strings(value):
            return found
    return []


def _cut_off_list(text: str) -> list[str]:
    """The complete strings of the first list of strings, when the reply stops inside it."""
    start = re.search(r'\[\s*"', text)
    if not start:
        return []
    out = []
    position = start.end() - 1
    while match := _JSON_STRING.match(text, position):
        out.append(json.loads(match.group(0)).strip())
        rest = re.match(r"\s*,\s*", text[match.end():])
        if not rest:
            break
        position = match.end() + rest.end()
    return [s for s in out if s]


def parse_instructions(text: str, k: int) -> list[str]:
    """At most ``k`` distinct instructions from a reply; [] when it holds none. The worked
    example's own instructions are dropped (a small model sometimes repeats them)."""
    cleaned = _FENCE.sub("", text)
    found = _first_json_value(cleaned) or _cut_off_list(cleaned)
    out: list[str] = []
    for instruction in found:
        if instruction not in EXAMPLE_INSTRUCTIONS and instruction not in out:
            out.append(instruction)
    return out[:k]
