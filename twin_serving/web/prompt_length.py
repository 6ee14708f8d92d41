"""The prompt counter under the page's prompt box: tokens against the model's real budget.

Counted as the request is sent with no sources: the system message for the author and platform
and the prompt, through the served model's tokenizer and chat template (the service's own
``TokenCounter``). The budget is the service's own (``TwinService.budget``: the model server's
limits from ``/info`` less the answer's tokens), so "fits" here means the request fits there;
sources are then added only as far as they fit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from twin_serving.rag.prompt import system_message
from twin_serving.schemas import MAX_PROMPT_CHARS, GenerateRequest, Platform

DEFAULT_MAX_NEW_TOKENS = GenerateRequest.model_fields["max_new_tokens"].default
# Longest text counted: a paste far over the limit is reported from its length alone.
MAX_COUNTED_CHARS = MAX_PROMPT_CHARS * 4


class PromptLengthRequest(BaseModel):
    prompt: str = Field("", max_length=MAX_COUNTED_CHARS * 10)
    platform: Platform | None = None
    author: str | None = Field(None, max_length=100)


async def prompt_length(service: Any, body: PromptLengthRequest) -> dict[str, Any]:
    text = body.prompt.strip()[:MAX_COUNTED_CHARS]
    messages = [
        {"role": "system", "content": system_message(body.author, body.platform)},
        {"role": "user", "content": text},
    ]
    tokens = await asyncio.to_thread(service.counter.prompt, messages)
    limit = None
    try:
        info = await service.model_info()
        limit = service.budget(info, service.answer_tokens(info, DEFAULT_MAX_NEW_TOKENS))
    except Exception:  # the model server is down: the counter shows characters only
        limit = None
    return {
        "tokens": tokens,
        "limit": limit,
        "chars": len(body.prompt.strip()),
        "max_chars": MAX_PROMPT_CHARS,
    }
