"""Settings of the inference service, read from the environment once (pydantic-settings).

Local defaults need no variable: the API talks to the local TGI-compatible server and the
local Milvus Lite server; tracing and alerts stay off until their keys / webhook are set.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AlertRule(BaseModel):
    """Fires when ``metric`` over the last ``window`` requests goes above ``threshold``."""

    name: str
    metric: Literal["p95_latency_s", "error_rate", "zero_hit_rate", "empty_answer_rate"]
    threshold: float = Field(ge=0)
    window: int = Field(50, ge=1, le=10_000, description="How many recent requests to look at.")
    min_requests: int = Field(5, ge=1, description="No verdict on fewer requests than this.")


DEFAULT_ALERT_RULES = [
    AlertRule(name="slow answers", metric="p95_latency_s", threshold=20.0),
    AlertRule(name="failing requests", metric="error_rate", threshold=0.2),
    AlertRule(name="nothing retrieved", metric="zero_hit_rate", threshold=0.5),
]


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    # Generation
    tgi_url: str = Field(
        "http://127.0.0.1:8080",
        validation_alias=AliasChoices("TGI_URL", "TWIN_TGI_URL"),
        description="Base URL of the TGI (or TGI-compatible) server.",
    )
    tgi_timeout_s: int = Field(120, ge=1, description="Per generation request.")
    tokenizer: str = Field(
        "",
        description="Folder of the served model's tokenizer (token budget, chat template); "
        "empty: the registry's production model.",
    )
    max_input_tokens: int = Field(
        0, ge=0, description="Prompt budget; 0: ask the TGI server's /info."
    )
    query_generator_url: str = Field(
        "",
        description="TGI-compatible endpoint used for LLM self-query and query expansion; "
        "empty: rule-based.",
    )

    # Retrieval
    milvus_uri: str = Field(
        "http://127.0.0.1:19530", description="Milvus URI; locally the `twin milvus start` server."
    )
    milvus_token: SecretStr = Field(SecretStr(""), description="Milvus token (prod).")
    milvus_collection: str = Field(
        "", description="Chunk collection to search; empty: the one named after the embedding model."
    )
    top_k: int = Field(5, ge=1, le=50, description="Chunks put into the prompt.")
    query_variants: int = Field(
        2, ge=1, le=8,
        description="Expanded queries per request (all searched in one batched call; each one "
        "adds a hybrid search, see benchmarks/rag_overhead.py).",
    )
    per_query_k: int = Field(6, ge=1, le=100, description="Milvus hits per query variant.")
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="Relevance vs diversity in MMR.")
    reranker_model: str = Field(
        "", description="Folder of a FlagEmbedding reranker; empty: MMR over the embeddings."
    )

    # Links sent by API callers
    link_allowlist: list[str] = Field(
        default_factory=list,
        description="Hosts or CIDRs that links may reach although private (JSON list).",
    )
    link_max_bytes: int = Field(2_000_000, ge=1_000, description="Per fetched link.")
    link_timeout_s: float = Field(10.0, gt=0, description="Per fetched link, all hops.")
    link_max_redirects: int = Field(5, ge=0, le=20)

    # API
    api_key: SecretStr | None = Field(None, description="When set, every /v1 call needs it.")
    max_prompt_chars: int = Field(4000, ge=10)
    default_max_new_tokens: int = Field(256, ge=1, le=4096)

    # Tracing (Langfuse reads these names too)
    langfuse_public_key: str = Field(
        "", validation_alias=AliasChoices("LANGFUSE_PUBLIC_KEY", "TWIN_LANGFUSE_PUBLIC_KEY")
    )
    langfuse_secret_key: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("LANGFUSE_SECRET_KEY", "TWIN_LANGFUSE_SECRET_KEY"),
    )
    langfuse_host: str = Field(
        "https://cloud.langfuse.com",
        validation_alias=AliasChoices("LANGFUSE_HOST", "LANGFUSE_BASE_URL", "TWIN_LANGFUSE_HOST"),
    )

    # Monitoring
    alert_webhook_url: str = Field("", description="Slack-compatible webhook; empty: no alerts.")
    alert_rules: list[AlertRule] = Field(default_factory=lambda: list(DEFAULT_ALERT_RULES))
    alert_cooldown_s: float = Field(300.0, ge=0, description="Quiet time after an alert fires.")

    @property
    def tracing_enabled(self) -> bool:
        return bool(self.langfuse_public_key and self.langfuse_secret_key.get_secret_value())


@lru_cache(maxsize=1)
def get_serving_settings() -> ServingSettings:
    return ServingSettings()
