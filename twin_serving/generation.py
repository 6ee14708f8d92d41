"""Generation through TGI with the ``text-generation`` client (``AsyncClient``).

Connection failures, overload and server errors become ``GenerationUnavailable`` (the API answers
503); TGI's validation errors (prompt too long, bad parameters) become ``GenerationRejected``
(422). The prompt is rendered here with the model's chat template and sent as raw ``inputs``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


class GenerationUnavailable(RuntimeError):
    """TGI cannot be reached or failed."""


class GenerationRejected(ValueError):
    """TGI refused the request as invalid."""


@dataclass
class Completion:
    text: str
    generated_tokens: int
    finish_reason: str


@dataclass
class StreamPiece:
    text: str
    final: Completion | None = None


def sampling_kwargs(max_new_tokens: int, temperature: float, seed: int | None = None) -> dict[str, Any]:
    """Temperature 0 is greedy decoding; anything else samples at that temperature."""
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens}
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature, seed=seed)
    return kwargs


def _classify(error: BaseException) -> Exception:
    from text_generation import errors

    if isinstance(error, errors.ValidationError | errors.BadRequestError):
        return GenerationRejected(f"the model refused the request: {error}")
    return GenerationUnavailable(f"text generation failed: {type(error).__name__}: {error}".strip())


class Generator:
    def __init__(self, base_url: str, timeout_s: int = 120):
        from text_generation import AsyncClient

        self.base_url = base_url.rstrip("/")
        self.client = AsyncClient(self.base_url, timeout=timeout_s)

    async def generate(self, prompt: str, **kwargs: Any) -> Completion:
        import aiohttp

        try:
            response = await self.client.generate(prompt, **kwargs)
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError, KeyError, ValueError) as error:
            raise _classify(error) from error
        except Exception as error:  # the client raises one class per TGI error type
            if type(error).__module__.startswith("text_generation"):
                raise _classify(error) from error
            raise
        details = response.details
        return Completion(response.generated_text, details.generated_tokens, details.finish_reason.value)

    async def stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[StreamPiece]:
        import aiohttp

        try:
            async for event in self.client.generate_stream(prompt, **kwargs):
                piece = "" if event.token.special else event.token.text
                final = None
                if event.details is not None:
                    final = Completion(event.generated_text or "", event.details.generated_tokens,
                                       event.details.finish_reason.value)
                yield StreamPiece(piece, final)
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError, KeyError, ValueError) as error:
            raise _classify(error) from error
        except Exception as error:
            if type(error).__module__.startswith("text_generation"):
                raise _classify(error) from error
            raise

    async def info(self, timeout_s: float = 10.0) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
                response = await client.get(self.base_url + "/info")
                response.raise_for_status()
                return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise GenerationUnavailable(f"TGI at {self.base_url} is not reachable: {error}") from error

    async def ready(self) -> tuple[bool, str]:
        try:
            async with httpx.AsyncClient(timeout=3.0, trust_env=False) as client:
                response = await client.get(self.base_url + "/health")
            if response.status_code == 200:
                return True, "ok"
            return False, f"TGI /health answered {response.status_code}"
        except httpx.HTTPError as error:
            return False, f"TGI at {self.base_url} is not reachable: {type(error).__name__}"
