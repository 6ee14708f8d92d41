"""Server-sent events: one generation in a worker thread, its tokens handed to the event loop
and written as TGI's (``/generate_stream``) or OpenAI's (chat completion chunk) events."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from twin_serving.engine import (
    Engine,
    GenerationParams,
    GenerationResult,
    GenerationValidationError,
    TokenEvent,
)

# One encoder for every event (json.dumps with options builds a new one per call); compact, as
# TGI writes its events.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
DONE = b"data: [DONE]\n\n"


def sse(payload: dict[str, Any]) -> bytes:
    return b"data:" + _JSON.encode(payload).encode() + b"\n\n"


def token_json(token: TokenEvent) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": token.logprob, "special": token.special}


def chat_finish_reason(result: GenerationResult) -> str:
    return "length" if result.finish_reason == "length" else "stop"


class TokenStream:
    """Runs one generation in a worker thread and hands its tokens to the event loop."""

    def __init__(self, engine: Engine, prompt: str, params: GenerationParams, *, logprobs: bool = True):
        self.engine, self.prompt, self.params = engine, prompt, params
        self.logprobs = logprobs
        self.cancelled = threading.Event()

    async def events(self) -> AsyncIterator[list[TokenEvent | GenerationResult | Exception]]:
        """What the generation produced since the last step, oldest first: tokens, then the
        result or the error. Items that queued up while the loop was busy come out together,
        so they can go out in one write; nothing is held back waiting for more."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def on_token(token: TokenEvent) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, token)

        def work() -> None:
            try:
                outcome: Any = self.engine.generate(self.prompt, self.params, on_token, self.cancelled,
                                                    logprobs=self.logprobs)
            except Exception as error:  # handed to the consumer, which reports it
                outcome = error
            loop.call_soon_threadsafe(queue.put_nowait, outcome)

        task = loop.run_in_executor(None, work)
        try:
            while True:
                items = [await queue.get()]
                while not queue.empty():
                    items.append(queue.get_nowait())
                yield items
                if not isinstance(items[-1], TokenEvent):
                    break
        finally:
            self.cancelled.set()  # the client went away: stop generating
            await asyncio.shield(task)


async def tgi_events(stream: TokenStream, full_text_prefix: str) -> AsyncIterator[bytes]:
    """TGI's ``/generate_stream`` events; the last one carries the text and the details.
    ``full_text_prefix``: the prompt when ``return_full_text`` asks for it, else ""."""
    index = 0
    previous: dict[str, Any] = {}
    async for items in stream.events():
        out: list[bytes] = []
        for item in items:
            if isinstance(item, TokenEvent):
                index += 1
                # Hold each token back one step so the last one can carry the details.
                if previous:
                    out.append(sse(previous))
                previous = {
                    "index": index, "token": token_json(item), "top_tokens": None,
                    "generated_text": None, "details": None,
                }
            elif isinstance(item, GenerationResult):
                final = previous or {
                    "index": 0, "token": {"id": 0, "text": "", "logprob": None, "special": True},
                    "top_tokens": None,
                }
                final["generated_text"] = full_text_prefix + item.text
                final["details"] = {
                    "finish_reason": item.finish_reason,
                    "generated_tokens": len(item.tokens),
                    "seed": item.seed,
                    "input_length": item.input_length,
                }
                out.append(sse(final))
            else:
                error_type = "validation" if isinstance(item, GenerationValidationError) else "generation"
                out.append(sse({"error": str(item), "error_type": error_type}))
        if out:
            yield b"".join(out)


async def chat_chunks(stream: TokenStream, head: dict[str, Any]) -> AsyncIterator[bytes]:
    """OpenAI's ``chat.completion.chunk`` events, then ``[DONE]``. ``head``: the fields every
    chunk repeats (id, created, model, ...)."""

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        return sse({
            **head, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"role": "assistant", **delta},
                         "logprobs": None, "finish_reason": finish}],
        })

    async for items in stream.events():
        out: list[bytes] = []
        for item in items:
            if isinstance(item, TokenEvent):
                if not item.special:
                    out.append(chunk({"content": item.text}, None))
            elif isinstance(item, GenerationResult):
                out.append(chunk({"content": ""}, chat_finish_reason(item)))
            else:
                out.append(sse({"error": str(item), "error_type": "generation"}))
        if out:
            yield b"".join(out)
    yield DONE
