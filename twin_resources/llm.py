"""An OpenAI-compatible chat endpoint (TGI Messages API, vLLM, OpenAI) used to write
instructions for the ``llm`` dataset generator and to judge twins in evaluation."""

from __future__ import annotations

from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field


class InstructionLLMResource(ConfigurableResource):
    base_url: str = Field("", description="Endpoint root (…/v1/chat/completions is appended); empty: not configured.")
    model: str = Field("tgi", description="Model name sent with each request (e.g. gpt-4o-mini).")
    api_key: str = Field("", description="Bearer token; empty for a local TGI.")
    max_concurrency: int = Field(4, ge=1, le=64, description="Requests in flight at once during a dataset build.")
    max_attempts: int = Field(4, ge=1, le=10, description="Tries per extract (timeouts, 429 and 5xx are retried).")
    backoff_s: float = Field(1.0, ge=0, description="First pause between tries; it doubles, with jitter, up to 30 s.")
    timeout_s: float = Field(60.0, gt=0, description="Per request.")
    response_format: Literal["json_schema", "json_object", "tgi", "none"] = Field(
        "json_schema",
        description="How to ask for JSON: json_schema (OpenAI, vLLM), json_object, tgi (TGI's "
        "grammar: json_object with the schema as value), none. An endpoint that refuses it is "
        "asked without it and its replies parsed as text.",
    )

    @property
    def configured(self) -> bool:
        return bool(self.base_url.strip())
