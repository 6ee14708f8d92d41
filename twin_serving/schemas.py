"""Request and response models of the API (they are the OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

MAX_PROMPT_CHARS = 4000
MAX_LINKS = 5
Platform = Literal["linkedin", "medium", "substack", "github"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


class GenerateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{
                "prompt": "Write a LinkedIn post about shipping small models in my voice, "
                          "using my past content and these new links.",
                "links": ["https://example.com/blog/small-models"],
                "platform": "linkedin",
                "max_new_tokens": 200,
                "temperature": 0.7,
            }]
        },
    )

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="What to write.")
    links: list[HttpUrl] = Field(
        default_factory=list, max_length=MAX_LINKS,
        description="Pages to use as fresh knowledge (public http/https only).",
    )
    platform: Platform | None = Field(None, description="Target format (style of the output).")
    author: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                               description="Whose voice (filters retrieval to their writing).")
    max_new_tokens: int = Field(256, ge=1, le=1024)
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="0 is greedy decoding.")
    stream: bool = Field(False, description="Server-sent events: `token` events, then `done`.")
    session_id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    user_id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")

    _prompt_not_blank = field_validator("prompt")(_not_blank)


class Source(BaseModel):
    kind: Literal["past", "link"] = Field(description="Retrieved past writing, or a given link.")
    url: str
    title: str
    score: float = Field(description="Relevance (similarity or reranker score); 1.0 for links.")
    snippet: str


class GenerateResponse(BaseModel):
    text: str
    sources: list[Source]
    model_version: str
    trace_id: str
    warnings: list[str] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong, in one line.")
    dependency: str | None = Field(None, description="The system that is down (503).")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_PROMPT_CHARS * 2)


class ChatCompletionRequest(BaseModel):
    # OpenAI clients send options this service does not use (n=1, stream_options, ...).
    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=50)
    max_tokens: int | None = Field(None, ge=1, le=1024)
    max_completion_tokens: int | None = Field(None, ge=1, le=1024)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    stream: bool = False
    user: str | None = Field(None, max_length=200)

    @field_validator("messages")
    @classmethod
    def _last_is_user(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role != "user" or not messages[-1].content.strip():
            raise ValueError("the last message must be a non-empty user message")
        if len(messages[-1].content) > MAX_PROMPT_CHARS:
            raise ValueError(f"the last message is longer than {MAX_PROMPT_CHARS} characters")
        return messages
