"""The OpenAPI schema says what the API checks (schemathesis found drift in these places)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from pydantic import ValidationError

from twin_serving.links import fetch_links
from twin_serving.schemas import NOT_BLANK, ChatCompletionRequest, GenerateRequest
from twin_serving.ssrf import Unresolvable


@pytest.mark.parametrize("field, value", [("stream", "true"), ("max_new_tokens", "8"), ("temperature", "0.5")])
def test_strings_are_not_coerced_into_booleans_or_numbers(field, value):
    with pytest.raises(ValidationError):
        GenerateRequest.model_validate({"prompt": "hi", field: value})


def test_a_whole_number_written_as_a_float_is_an_integer_as_in_json_schema():
    body = json.loads('{"prompt": "hi", "max_new_tokens": 8.0}')
    assert GenerateRequest.model_validate(body).max_new_tokens == 8
    chat = json.loads('{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8.0, "max_completion_tokens": 4.0}')
    assert ChatCompletionRequest.model_validate(chat).max_tokens == 8
    for fraction in (8.5, 0.0, 2048.0):
        with pytest.raises(ValidationError):
            GenerateRequest.model_validate({"prompt": "hi", "max_new_tokens": fraction})


def _keys(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


@pytest.mark.parametrize("model", [GenerateRequest, ChatCompletionRequest])
def test_bounds_are_json_schema_keywords_that_clients_and_fuzzers_read(model):
    """pydantic writes ``ge``/``le`` verbatim when it cannot place a bound (an optional field
    with a validator): no client honours those, so a schema-valid 0 would be refused."""
    schema = model.model_json_schema()
    assert not {"ge", "le", "gt", "lt", "strict"} & set(_keys(schema))
    tokens = "max_new_tokens" if model is GenerateRequest else "max_tokens"
    assert '"minimum": 1' in json.dumps(schema["properties"][tokens])


def test_lone_surrogates_in_json_strings_become_replacement_characters():
    """Valid JSON, refused by every regular expression and tokenizer downstream."""
    body = json.loads('{"prompt": "ab\\udc80c", "author": "\\ud87e"}')
    request = GenerateRequest.model_validate(body)
    assert (request.prompt, request.author) == ("ab\ufffdc", "\ufffd")
    chat = json.loads('{"messages": [{"role": "user", "content": "\\udc80"}]}')
    assert ChatCompletionRequest.model_validate(chat).messages[0].content == "\ufffd"


def test_blank_prompts_are_refused_by_the_schema_itself():
    schema = GenerateRequest.model_json_schema()["properties"]["prompt"]
    assert schema["pattern"] == NOT_BLANK
    # Whitespace to one engine or another (ECMA-262's \s has U+FEFF, Python's has U+001C, both
    # have U+0085): refused by the schema's own pattern, as the validator refuses it.
    for blank in ("   ", "\x85", "\ufeff", "\x1c\u3000"):
        assert not re.search(NOT_BLANK, blank)
        with pytest.raises(ValidationError):
            GenerateRequest.model_validate({"prompt": blank})
    assert GenerateRequest.model_validate({"prompt": "\u200bok"}).prompt


def test_a_chat_needs_a_user_message_and_says_so_in_its_schema():
    schema = ChatCompletionRequest.model_json_schema()["properties"]["messages"]
    assert schema["contains"]["properties"]["role"] == {"const": "user"}
    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate({"messages": [{"role": "assistant", "content": "hi"}]})
    # A trailing assistant message is schema-valid, so it is accepted: the last user turn is the request.
    chat = ChatCompletionRequest.model_validate({"messages": [
        {"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"}, {"role": "assistant", "content": "draft"}]})
    assert chat.messages[chat.request_index()].content == "second"


def test_a_link_whose_host_does_not_resolve_is_skipped_not_refused():
    def offline(url: str) -> None:
        raise Unresolvable("cannot resolve 'example.com'")

    fetched = asyncio.run(fetch_links(["https://example.com/post"], offline))
    assert fetched.sources == []
    assert fetched.warnings == ["link https://example.com/post skipped: cannot resolve 'example.com'"]
