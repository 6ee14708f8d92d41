"""An OpenAI-compatible chat endpoint (TGI Messages API, vLLM, OpenAI) used to write
instructions for the ``llm`` dataset generator and to judge twins in evaluation."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field


class InstructionLLMResource(ConfigurableResource):
    base_url: str = Field("", description="Endpoint root (…/v1/chat/completions is appended); empty: not configured.")
    model: str = Field("tgi", description="Model name sent with each request (e.g. gpt-4o-mini).")
    api_key: str = Field("", description="Bearer token; empty for a local TGI.")

    @property
    def configured(self) -> bool:
        return bool(self.base_url.strip())
