"""The one settings object, read from the environment (``TWIN_*``) by every process.

``TWIN_ENV`` is the one environment switch: ``local`` needs no variables and no network;
``prod`` reads every endpoint and secret from the environment. The API's and the web page's
own fields live in nested sections (``settings.serving``, ``settings.web``) that read the same
flat ``TWIN_*`` names, so a deployment sets ``TWIN_TGI_URL`` exactly as before.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")


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
    """The inference API: the model server, retrieval, links, tracing and alerts."""

    model_config = ENV

    # Generation
    tgi_url: str = Field(
        "http://127.0.0.1:8080",
        validation_alias=AliasChoices("TGI_URL", "TWIN_TGI_URL"),
        description="Base URL of the model server: TGI, vLLM or `twin serve-model` (the API "
        "generates through its /v1/chat/completions).",
    )
    tgi_timeout_s: int = Field(120, ge=1, description="Per generation request.")
    engine_model: str = Field(
        "",
        description="`model` sent to the engine's Messages API; empty: the first model its "
        "/v1/models lists (TGI takes any name).",
    )
    engine_adapters: dict[str, str] = Field(
        default_factory=dict,
        description="Author name or slug -> the LoRA adapter the engine serves for that twin, sent as "
        "`model` (TGI LORA_ADAPTERS, vLLM --lora-modules, `twin serve-model --adapter`); JSON.",
    )
    tokenizer: str = Field(
        "",
        description="Folder of the served model's tokenizer, for exact token counts only (the "
        "engine applies the chat template); empty: the local registry's model, else estimates.",
    )
    max_input_tokens: int = Field(0, ge=0, description="Prompt budget; 0: ask the TGI server's /info.")
    query_generator_url: str = Field(
        "",
        description="TGI-compatible endpoint used for LLM self-query and query expansion; "
        "empty: rule-based.",
    )

    # Retrieval
    milvus_collection: str = Field(
        "", description="Chunk collection to search; empty: the one named after the embedding model."
    )
    top_k: int = Field(5, ge=1, le=50, description="Chunks put into the prompt.")
    query_variants: int = Field(
        1, ge=1, le=8,
        description="Queries searched per request: the request, plus up to N-1 expansions (its topic, "
        "its keywords; written by the LLM when a query generator is configured), all in one batched "
        "call. 1 by default: rule-based expansion found the answering post no more often on the "
        "sample corpus (benchmarks/retrieval.py) and costs a second query embedding and search.",
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
    trusted_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the API answers to besides localhost, 127.0.0.1 and ::1 (JSON "
        "list; the names clients and the ingress use). Other Host headers are refused.",
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs of the TLS proxy whose X-Forwarded-Proto / X-Forwarded-For "
        "are believed (JSON list); empty: those headers are ignored.",
    )
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


class WebSettings(BaseSettings):
    """The web page: where Dagster is and what to launch. The login key is ``serving.api_key``."""

    model_config = ENV

    dagster_url: str = Field(
        "http://127.0.0.1:3000",
        description="Base URL of the Dagster webserver (GraphQL at /graphql, runs at /runs/<id>).",
    )
    dagster_location: str = Field("llm_twin", description="Code location holding the job.")
    dagster_repository: str = Field("__repository__", description="Repository inside it.")
    collection_job: str = Field("collection_job", description="The job the page launches.")
    dagster_timeout_s: int = Field(10, ge=1, le=300, description="Per GraphQL request.")
    session_hours: int = Field(12, ge=1, le=24 * 30, description="Lifetime of a page login.")


class Settings(BaseSettings):
    """Everything a process needs: shared fields at the top, the API's and the page's in sections."""

    model_config = ENV

    env: Literal["local", "prod"] = Field("local", description="Which resource set to use.")
    home: Path = Field(Path(".data"), description="Local data root (warehouse, registry, Milvus).")
    profiles: Path = Field(Path("twin.yaml"), description="The authors and their sources.")
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Folders beyond the profile file's own that exports and local repositories "
        "in it may be read from (JSON list); anything else is refused.",
    )
    collection_cron: str = Field("0 6 * * *", description="When the daily collection runs (cron).")

    # Training: what automation-started runs train (they carry no run config)
    base_model: str = Field(
        "smollm2", description="The base the twin trains from: smollm2 (SmolLM2-135M-Instruct, shipped), an HF model id or folder, or tiny (a random test model).",
    )
    training_recipe: str = Field(
        "", description="A YAML or JSON file of twin_model settings (learning_rate, max_steps, lora_r, ...); empty: the asset's defaults.",
    )

    # Features: Milvus and the embedding model (the pipeline writes, the API reads the same)
    milvus_uri: str = Field(
        "http://127.0.0.1:19530", description="Milvus URI; locally the `twin milvus start` server."
    )
    milvus_token: SecretStr = Field(SecretStr(""), description="Milvus token; empty for Milvus Lite.")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="Embedding model id or folder (BGE ids work).")
    embedding_batch_size: int = Field(32, description="Texts per embedding forward pass.")
    embedding_backend: Literal["onnx", "torch"] = Field(
        "onnx",
        description="CPU encoder runtime: the model exported to ONNX Runtime (same vectors, faster; "
        "the export is cached under home/cache/onnx) or FlagEmbedding's torch module.",
    )

    # Object storage (prod)
    s3_bucket: str = Field("", description="Bucket holding warehouse, datasets and models.")
    s3_prefix: str = Field("", description="Key prefix inside the bucket.")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint (MinIO); empty for AWS.")

    serving: ServingSettings = Field(default_factory=ServingSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @classmethod
    def of(cls, **fields) -> Settings:
        """Settings from flat field names, each put into the section that owns it, the rest
        from the environment: ``Settings.of(milvus_uri=..., top_k=3, dagster_url=...)``."""
        sections = {"serving": ServingSettings, "web": WebSettings}
        parts: dict[str, dict] = {name: {} for name in sections}
        top: dict = {}
        for name, value in fields.items():
            owner = next((s for s, kind in sections.items() if name in kind.model_fields), None)
            if owner is None and name not in cls.model_fields:
                raise TypeError(f"no setting named {name!r}")
            (parts[owner] if owner else top)[name] = value
        return cls(**top, **{s: kind(**parts[s]) for s, kind in sections.items()})

    @property
    def store_root(self) -> Path:
        return self.home.resolve() / "store"

    @property
    def embedding_cache_dir(self) -> Path:
        """Where ONNX exports of embedding models are kept (content-addressed, safe to delete)."""
        return self.home.resolve() / "cache" / "onnx"

    @property
    def milvus_dir(self) -> Path:
        """The local Milvus Lite server's data folder (`twin milvus start`, `twin demo`)."""
        return self.home.resolve() / "milvus"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
