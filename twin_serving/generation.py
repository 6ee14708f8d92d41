"""Generation through the engine's OpenAI-compatible Messages API (``/v1/chat/completions``).

TGI, vLLM, SGLang and the local server (``twin serve-model``) all serve that route, so the API
depends on no one engine. The engine applies the model's chat template itself: the API sends
messages, needs no tokenizer, and no BOS is added twice. It stops at the turn end (the
template's end-of-turn token) like any chat completion. A twin's LoRA adapter is chosen per
request as the ``model`` (how TGI's multi-LoRA and vLLM's ``--enable-lora`` name adapters).

The client is ``openai.AsyncOpenAI``: one pooled HTTP connection set, typed errors. Failures
become sentences: ``GenerationUnavailable`` (503: the engine is down or failed) and
``GenerationRejected`` (422: the engine refused the request as invalid).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

# TGI answers any ``model`` with its one model; vLLM needs a name it serves (asked once).
TGI_MODEL = "tgi"


class GenerationUnavailable(RuntimeError):
    """The model server cannot be reached or failed."""


class GenerationRejected(ValueError):
    """The model server refused the request as invalid."""


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
    """OpenAI's fields: temperature 0 is greedy decoding; anything else samples at it."""
    kwargs: dict[str, Any] = {"max_tokens": max_new_tokens, "temperature": max(temperature, 0.0)}
    if temperature > 0 and seed is not None:
        kwargs["seed"] = seed
    return kwargs


def _engine_message(error: Any) -> str:
    """The engine's own one-line reason from an error body (TGI: ``error``; OpenAI: ``message``)."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        text = body.get("error") if isinstance(body.get("error"), str) else body.get("message")
        if isinstance(body.get("error"), dict):
            text = body["error"].get("message")
        if text:
            return str(text).splitlines()[0][:300]
    return ""


class Generator:
    def __init__(self, base_url: str, timeout_s: float = 120, *, model: str = ""):
        from openai import AsyncOpenAI

        self.base_url = base_url.rstrip("/")
        self.model = model  # empty: the engine's first served model (TGI: any name works)
        self.timeout_s = timeout_s
        self.client = AsyncOpenAI(base_url=self.base_url + "/v1", api_key="not-needed",
                                  timeout=timeout_s, max_retries=0)

    # -- errors as sentences -----------------------------------------------------------------------
    def _down(self) -> GenerationUnavailable:
        return GenerationUnavailable(
            f"The model server at {self.base_url} is not running: start it with `twin serve-model` "
            "(or set TGI_URL to a running TGI or vLLM)."
        )

    def _classify(self, error: BaseException) -> Exception:
        import openai

        if isinstance(error, openai.APITimeoutError):
            return GenerationUnavailable(
                f"The model server at {self.base_url} did not answer within {self.timeout_s:g} s: "
                "try again, or with fewer max_new_tokens."
            )
        if isinstance(error, openai.APIConnectionError | httpx.TransportError):
            return self._down()
        if isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
            reason = _engine_message(error) or "the request is invalid"
            return GenerationRejected(
                f"The model refused the request ({reason}): shorten the prompt or ask for fewer "
                "new tokens."
            )
        if isinstance(error, openai.NotFoundError):
            return GenerationUnavailable(
                f"The model server at {self.base_url} does not serve {self.model or 'this model'!r} "
                "or the Messages API: check TGI_URL and TWIN_ENGINE_MODEL."
            )
        status = getattr(error, "status_code", None)
        log.warning("generation failed at %s: %s: %s", self.base_url, type(error).__name__, error)
        return GenerationUnavailable(
            f"The model server at {self.base_url} failed to generate"
            + (f" (HTTP {status})" if status else "")
            + ": try again in a moment; if it keeps failing, check the model server's log."
        )

    # -- the served model ---------------------------------------------------------------------------
    async def _model_name(self, adapter: str | None) -> str:
        if adapter:
            return adapter
        if not self.model:
            info = await self.info()
            self.model = str(info.get("served_model") or TGI_MODEL)
        return self.model

    async def info(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """The engine's limits: TGI's ``/info``, else vLLM's ``/v1/models`` (``max_model_len``
        becomes ``max_total_tokens``). ``served_model``: the name to send as ``model``."""
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s, trust_env=False) as client:
                response = await client.get("/info")
                if response.status_code == 200:
                    info = response.json()
                    info.setdefault("served_model", TGI_MODEL)
                    return info
                models = await client.get("/v1/models")
                models.raise_for_status()
                first = (models.json().get("data") or [{}])[0]
        except httpx.TransportError as error:
            raise self._down() from error
        except (httpx.HTTPError, ValueError) as error:
            raise GenerationUnavailable(
                f"The model server at {self.base_url} answers neither /info nor /v1/models: check "
                "that TGI_URL points at TGI, vLLM or `twin serve-model`."
            ) from error
        info = {"model_id": first.get("id", ""), "served_model": first.get("id", "")}
        if first.get("max_model_len"):
            info["max_total_tokens"] = int(first["max_model_len"])
        return info

    async def resident_adapters(self, timeout_s: float = 10.0) -> set[str]:
        """Adapter names the engine lists in ``/v1/models`` besides its base (vLLM's LoRA
        modules, the local server's resident adapters); empty where it lists none or fails."""
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s, trust_env=False) as client:
                response = await client.get("/v1/models")
                response.raise_for_status()
                data = response.json().get("data") or []
        except (httpx.HTTPError, ValueError, AttributeError):
            return set()
        return {str(m["id"]) for m in data if isinstance(m, dict) and m.get("parent") and m.get("id")}

    async def ready(self) -> tuple[bool, str]:
        try:
            async with httpx.AsyncClient(timeout=3.0, trust_env=False) as client:
                response = await client.get(self.base_url + "/health")
            if response.status_code == 200:
                return True, "ok"
            return False, (f"The model server at {self.base_url} is not ready (/health answered "
                           f"{response.status_code}): wait for it to load the model.")
        except httpx.HTTPError:
            return False, str(self._down())

    # -- generation ---------------------------------------------------------------------------------
    async def generate(self, messages: list[dict[str, str]], *, adapter: str | None = None,
                       **kwargs: Any) -> Completion:
        import openai

        try:
            response = await self.client.chat.completions.create(
                model=await self._model_name(adapter), messages=messages, **kwargs)
        except openai.OpenAIError as error:
            raise self._classify(error) from error
        choice = response.choices[0]
        usage = response.usage
        return Completion(choice.message.content or "", usage.completion_tokens if usage else 0,
                          choice.finish_reason or "stop")

    async def stream(self, messages: list[dict[str, str]], *, adapter: str | None = None,
                     **kwargs: Any) -> AsyncIterator[StreamPiece]:
        """Text pieces, the last one carrying the ``Completion``."""
        import openai

        pieces: list[str] = []
        finish = None
        try:
            stream = await self.client.chat.completions.create(
                model=await self._model_name(adapter), messages=messages, stream=True, **kwargs)
            async for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                text = choice.delta.content or ""
                if text:
                    pieces.append(text)
                    yield StreamPiece(text)
                finish = choice.finish_reason or finish
        except openai.OpenAIError as error:
            raise self._classify(error) from error
        if finish is None:
            raise GenerationUnavailable(
                f"The model server at {self.base_url} ended the answer early: try again."
            )
        yield StreamPiece("", Completion("".join(pieces), len(pieces), finish))
