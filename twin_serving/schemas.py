"""Request and response models of the API (they are the OpenAPI schema at /docs)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, field_validator

MAX_PROMPT_CHARS = 4000
MAX_LINKS = 5
# Contains a character that is not whitespace (JSON Schema patterns search, they do not match
# the whole string), so the schema says what the validator checks. Spelled out rather than
# \S: ECMA-262 (JSON Schema's dialect), Python and Rust (pydantic) disagree on what \s is
# (U+0085, U+FEFF, U+001C-001F); the class is whitespace to any of them.
NOT_BLANK = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u001c-\u001f]"
Platform = Literal["linkedin", "medium", "substack", "github"]


def public_url(url: str) -> str:
    """Only web addresses reach clients: a local repository's ``file://`` URL would show the
    server's folders, so it becomes empty (the title still names the source)."""
    return url if url.lower().startswith(("http://", "https://")) else ""


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _whole_number(value: Any) -> Any:
    """JSON Schema's integer includes 5.0: take it as 5. Strings and booleans stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A token count: strict (no "8", no true), but any JSON number without a fraction. The bounds
# sit inside the type so that they stay in the schema when the field is optional.
TokenCount = Annotated[int, Field(ge=1, le=1024, strict=True), BeforeValidator(_whole_number)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1, strict=True,
                            description="With temperature > 0: the same seed, request and model give the same answer.")]


class RequestModel(BaseModel):
    """A request body. JSON may carry lone UTF-16 surrogates ("\\udc80"), valid JSON strings
    that no tokenizer or regular expression takes: each becomes U+FFFD before validation."""

    @field_validator("*", mode="before")
    @classmethod
    def _replace_lone_surrogates(cls, value: Any) -> Any:
        return _LONE_SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


class GenerateRequest(RequestModel):
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

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, pattern=NOT_BLANK, description="What to write.")
    links: list[HttpUrl] = Field(
        default_factory=list, max_length=MAX_LINKS,
        description="Pages to use as fresh knowledge (public http/https only).",
    )
    platform: Platform | None = Field(None, description="Target format (style of the output).")
    author: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                               description="Whose voice (filters retrieval to their writing).")
    max_new_tokens: TokenCount = 256
    temperature: float = Field(0.7, ge=0.0, le=2.0, strict=True, description="0 is greedy decoding.")
    seed: Seed | None = None
    stream: bool = Field(False, strict=True, description="Server-sent events: `token` events, then `done`.")
    session_id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    user_id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")

    _prompt_not_blank = field_validator("prompt")(_not_blank)


class Source(BaseModel):
    kind: Literal["past", "link"] = Field(description="Retrieved past writing, or a given link.")
    url: str = Field(description="The source's web address; empty for local files.")
    title: str
    score: float = Field(description="Relevance (similarity or reranker score); 1.0 for links.")
    snippet: str


    _public = field_validator("url")(public_url)


class GenerateResponse(BaseModel):
    text: str
    sources: list[Source]
    model_version: str
    trace_id: str
    warnings: list[str] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong, in one line.")
    dependency: str | None = Field(None, description="The system that is down (503).")


class ChatMessage(RequestModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_PROMPT_CHARS, pattern=NOT_BLANK)


class ChatCompletionRequest(RequestModel):
    # OpenAI clients send options this service does not use (n=1, stream_options, ...).
    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, max_length=200)
    messages: list[ChatMessage] = Field(
        min_length=1, max_length=50,
        description="The conversation; the last user message is the request (messages after it are ignored).",
        json_schema_extra={"contains": {"type": "object", "properties": {"role": {"const": "user"}},
                                        "required": ["role"]}},
    )
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0, strict=True)
    seed: Seed | None = None
    stream: bool = Field(False, strict=True)
    user: str | None = Field(None, max_length=200)

    @field_validator("messages")
    @classmethod
    def _has_user(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.role == "user" for m in messages):
            raise ValueError("the conversation needs a user message")
        return messages

    def request_index(self) -> int:
        """Position of the last user message: the request."""
        return max(i for i, m in enumerate(self.messages) if m.role == "user")
