"""Request bodies of TGI's routes, as TGI accepts them (unknown fields are ignored)."""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from twin_serving.engine import GenerationParams, GenerationValidationError


class Parameters(BaseModel):
    # Clients send fields this server ignores (adapter_id: null, watermark, ...): accept them.
    model_config = ConfigDict(extra="ignore")

    max_new_tokens: int | None = Field(None, ge=1)
    do_sample: bool = False
    temperature: float | None = Field(None, gt=0)
    top_k: int | None = Field(None, gt=0)
    top_p: float | None = Field(None, gt=0, lt=1)
    typical_p: float | None = Field(None, gt=0, lt=1)
    repetition_penalty: float | None = Field(None, gt=0)
    seed: int | None = Field(None, ge=0)
    stop: list[str] = Field(default_factory=list, max_length=4)
    truncate: int | None = Field(None, gt=0)
    return_full_text: bool | None = False
    details: bool = False
    decoder_input_details: bool = False
    best_of: int | None = Field(None, ge=1, le=1)
    top_n_tokens: int | None = None
    grammar: Any = None
    adapter_id: str | None = None

    def generation(self, default_max_new_tokens: int) -> GenerationParams:
        if self.grammar is not None:
            raise GenerationValidationError("grammar is not supported by this server")
        return GenerationParams(
            max_new_tokens=self.max_new_tokens or default_max_new_tokens,
            do_sample=self.do_sample,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            typical_p=self.typical_p,
            repetition_penalty=self.repetition_penalty,
            seed=self.seed,
            stop=[s for s in self.stop if s],
            truncate=self.truncate,
            adapter=self.adapter_id or None,  # TGI's multi-LoRA: the adapter, per request
        )


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: str = Field(min_length=1)
    parameters: Parameters = Field(default_factory=Parameters)
    stream: bool = False


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=0)
    stop: list[str] | str | None = None
    stream: bool = False

    def generation(self, default_max_new_tokens: int, adapters: Container[str] = ()) -> GenerationParams:
        """``model`` names an adapter when one of that name is resident (as TGI and vLLM take
        it); any other name is the base model."""
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return GenerationParams(
            max_new_tokens=self.max_tokens or default_max_new_tokens,
            temperature=self.temperature or None,
            do_sample=bool(self.temperature),
            top_p=self.top_p if self.top_p and self.top_p < 1 else None,
            seed=self.seed,
            stop=stop,
            adapter=self.model if self.model in adapters else None,
        )
