"""What the page says when asking fails: a sentence with the remedy, on the field it is about.

The API's own answers stay precise for programs (status codes, the dependency, the library's
reason); the page translates them here, so nobody reads "ClientConnectorError: ... ssl:default"
or a token arithmetic line. ``field`` is the input the page shows the message next to
(``prompt``, ``links``) or ``form`` for the whole request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from twin_serving.generation import GenerationRejected, GenerationUnavailable
from twin_serving.links import LinkRefused
from twin_serving.retriever import RetrievalUnavailable
from twin_serving.service import BudgetExceeded

MODEL_DOWN = (
    "The model server is not answering, so the twin cannot write right now. Start it "
    "(`twin serve` starts it with the page) or check TWIN_TGI_URL, then press “Write it” again."
)
MODEL_STOPPED = (
    "The model server stopped answering in the middle of the answer. What arrived is kept "
    "above; check that the model server is running, then press “Regenerate”."
)
MILVUS_DOWN = (
    "The knowledge base (Milvus) is not answering, so your past writing cannot be searched. "
    "Start it (`twin serve` or `make dev`) or check TWIN_MILVUS_URI, then try again."
)
TOO_LONG = (
    "This request is too long for the model: shorten the prompt (the counter under it shows "
    "how much fits), then try again."
)
REJECTED = (
    "The model server refused this request, most likely as too long for it. Shorten the prompt "
    "or use fewer links, then try again."
)
UNEXPECTED = "Something went wrong on the server while writing. Try again; if it repeats, the server log says why."


@dataclass(frozen=True)
class PlainError:
    field: str
    message: str
    status: int

    def body(self) -> dict[str, object]:
        return {"error": self.message, "errors": {self.field: self.message}}


def plain_error(error: BaseException) -> PlainError | None:
    """The page's words for a failure of ``/ask``; None for one the app's handlers should answer."""
    if isinstance(error, GenerationUnavailable):
        return PlainError("form", MODEL_DOWN, 503)
    if isinstance(error, RetrievalUnavailable):
        return PlainError("form", MILVUS_DOWN, 503)
    if isinstance(error, BudgetExceeded):
        return PlainError("prompt", TOO_LONG, 422)
    if isinstance(error, GenerationRejected):
        return PlainError("prompt", REJECTED, 422)
    if isinstance(error, LinkRefused):
        reason = str(error).removeprefix("link ")
        return PlainError(
            "links",
            f"This link cannot be used: {reason}. Remove it or give a public web address, then try again.",
            422,
        )
    return None


def stream_error_message(status: int) -> str:
    if status == 503:
        return MODEL_STOPPED
    if status == 422:
        return REJECTED
    return UNEXPECTED


async def plain_stream(events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The answer's event stream with any ``error`` event's text put in plain words (each event
    arrives as one chunk; the others pass through untouched)."""
    async for chunk in events:
        if chunk.startswith(b"event: error\n"):
            _, _, data = chunk.decode("utf-8").partition("\ndata: ")
            try:
                status = int(json.loads(data.strip()).get("status", 500))
            except (ValueError, AttributeError):
                status = 500
            payload = {"error": stream_error_message(status), "status": status}
            chunk = f"event: error\ndata: {json.dumps(payload)}\n\n".encode()
        yield chunk
