"""Prompt assembly within the model's context budget, counted with the model's tokenizer.

Retrieved chunks and fetched links are wrapped in ``<source>`` elements and the system message
says they are data written by (or shown to) the author, never instructions; a closing tag inside
the data is neutralised so it cannot end the element early.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

# One prompt shape from training to serving: the twin trained on exactly these pieces.
from twin_core.prompts import (  # noqa: F401  (re-exported for the serving modules)
    PLATFORM_STYLE,
    SYSTEM,
    SourceText,
    escape_data,
    render_source,
    system_message,
    user_message,
)
from twin_serving.schemas import public_url


@dataclass
class BuiltPrompt:
    messages: list[dict[str, str]]
    used: list[SourceText]
    dropped: int
    tokens: int


def truncate_to_tokens(text: str, limit: int, count: Callable[[str], int]) -> str:
    """Cut ``text`` (at a word boundary) so that it counts at most ``limit`` tokens."""
    if limit <= 0:
        return ""
    if count(text) <= limit:
        return text
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # binary search on the number of words kept
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def _render(index: int, source: SourceText) -> str:
    """A source as the model sees it, without server file paths (a local repository's
    ``file://`` URL would show the server's folders to whoever reads the answer)."""
    return render_source(index, replace(source, url=public_url(source.url)))


def build_prompt(
    question: str,
    sources: Sequence[SourceText],
    *,
    count_prompt: Callable[[list[dict[str, str]]], int],
    count_text: Callable[[str], int],
    budget: int,
    author: str | None = None,
    platform: str | None = None,
    max_link_share: float = 0.4,
    history: Sequence[dict[str, str]] = (),
    chars_per_token: float | None = None,
) -> BuiltPrompt:
    """Messages for the chat template with as many sources as fit in ``budget`` tokens.

    Sources are taken in the given order (links first, then chunks best-first); a link is
    shortened to ``max_link_share`` of the budget so one long page cannot push out everything
    else. ``count_prompt`` counts the rendered chat prompt exactly; it is the final check.

    Without links, the usual case (every retrieved chunk fits) is settled by that one exact
    count of the whole prompt; only a prompt over budget is assembled source by source.
    ``chars_per_token`` (the tokenizer's recent ratio, a hint only) skips that first count when
    the prompt is clearly too long for it to succeed.
    """
    system = system_message(author, platform)
    head = [{"role": "system", "content": system}, *history]
    if not any(source.kind == "link" for source in sources):
        rendered = [_render(i, source) for i, source in enumerate(sources, 1)]
        messages = [*head, {"role": "user", "content": user_message(question, rendered)}]
        chars = sum(len(m["content"]) for m in messages)
        if not chars_per_token or chars / chars_per_token <= budget:
            tokens = count_prompt(messages)
            if tokens <= budget:
                return BuiltPrompt(messages, list(sources), 0, tokens)
    base = [*head, {"role": "user", "content": question}]
    used_tokens = count_prompt(base)
    if used_tokens > budget:
        raise ValueError(f"the request alone needs {used_tokens} tokens; the model takes {budget}")
    used: list[SourceText] = []
    rendered: list[str] = []
    remaining = budget - used_tokens
    for source in sources:
        if source.kind == "link":
            limit = min(int(budget * max_link_share), remaining - 32)
            source = SourceText(source.kind, source.url, source.title,
                                truncate_to_tokens(source.text, limit, count_text))
            if not source.text:
                continue
        piece = _render(len(rendered) + 1, source)
        cost = count_text(piece) + 2
        if cost > remaining:
            continue
        rendered.append(piece)
        used.append(source)
        remaining -= cost
    messages = [*head, {"role": "user", "content": user_message(question, rendered)}]
    tokens = count_prompt(messages)
    while tokens > budget and rendered:  # pieces counted alone can add up to a little more
        rendered.pop()
        used.pop()
        messages[-1] = {"role": "user", "content": user_message(question, rendered)}
        tokens = count_prompt(messages)
    return BuiltPrompt(messages, used, len(sources) - len(used), tokens)


def render_chat(tokenizer, messages: list[dict[str, str]]) -> str:
    """The prompt text TGI receives: the model's chat template, or a plain layout without one."""
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    body = "\n\n".join(f"### {m['role'].capitalize()}\n{m['content']}" for m in messages)
    return body + "\n\n### Assistant\n"
