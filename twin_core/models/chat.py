"""Chat templates for any base model: one tokenization of a conversation for training,
evaluation and serving, with the answer's tokens known exactly.

Real templates (ChatML, Llama 3.1, Mistral ``[INST]``) carry no ``{% generation %}`` markers, so
``return_assistant_tokens_mask`` finds nothing in them. The answer is located instead by rendering
the conversation twice: the prompt prefix (every turn before the answer plus the generation
prompt) and the whole conversation. The answer tokens are those whose text starts at or after
the end of the prefix: the answer and the template's end-of-turn marker, which is what teaches
the model to stop. A base without a template gets ``DEFAULT_CHAT_TEMPLATE``; a configured
template overrides the base's own. The template used in training is saved with the tokenizer,
so evaluation and serving render the same prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# For bases that come without a template: plain role headings, each turn closed by the
# tokenizer's EOS token, so generation ends where the answer ends.
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '### ' + message['role'] | capitalize }}\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}### Assistant\n{% endif %}"
)

_PROBE = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
_PROBE_ANSWER = "A7x"


class ChatTemplateError(ValueError):
    """The chat template cannot render a conversation the way training needs."""


@dataclass(frozen=True)
class EncodedChat:
    input_ids: list[int]
    answer_mask: list[int]  # 1 on the answer's tokens and its end of turn

    @property
    def answer_tokens(self) -> int:
        return sum(self.answer_mask)


def prepare_tokenizer(tokenizer: Any, chat_template: str | None = None) -> str:
    """Give the tokenizer the template to use (override > its own > default); returns it.

    Also makes the template's end-of-turn token the EOS token (and sets a pad token), so that
    ``generate``, TRL and the serving engine stop at the end of the answer.
    """
    template = chat_template or getattr(tokenizer, "chat_template", None) or DEFAULT_CHAT_TEMPLATE
    tokenizer.chat_template = template
    if tokenizer.eos_token is None:
        raise ChatTemplateError("the tokenizer has no EOS token; set one or give a chat_template with an end-of-turn token")
    end = turn_end_token(tokenizer)
    if end is not None and end != tokenizer.eos_token:
        tokenizer.eos_token = end
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        # A pad distinct from EOS keeps padding apart from the real end of a turn.
        spare = next((t for t in (tokenizer.unk_token, tokenizer.bos_token) if t and t != tokenizer.eos_token), None)
        tokenizer.pad_token = spare or tokenizer.eos_token
    return template


def _render(tokenizer: Any, messages: list[dict[str, str]], prompt_only: bool) -> str:
    if prompt_only:
        return tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    return tokenizer.apply_chat_template(messages, tokenize=False)


def encode_chat(tokenizer: Any, messages: list[dict[str, str]], max_length: int | None = None) -> EncodedChat:
    """Token ids of a conversation whose last turn is the answer, and the answer's mask."""
    if not messages or messages[-1]["role"] != "assistant":
        raise ChatTemplateError("the conversation must end with the assistant's answer")
    prefix = _render(tokenizer, messages, prompt_only=True)
    full = _render(tokenizer, messages, prompt_only=False)
    if not full.startswith(prefix):
        raise ChatTemplateError(
            "the chat template renders the prompt differently with and without the answer; "
            "set chat_template to one whose prompt is a prefix of the whole conversation"
        )
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    mask = [1 if start >= len(prefix) else 0 for start, _end in encoded["offset_mapping"]]
    # A token that straddles the boundary (a merge of the prompt's last and the answer's first
    # characters) belongs to the answer: it is produced after the prompt.
    for i, (start, end) in enumerate(encoded["offset_mapping"]):
        if start < len(prefix) < end:
            mask[i] = 1
    if max_length is not None:
        ids, mask = ids[:max_length], mask[:max_length]
    return EncodedChat(ids, mask)


def turn_end_token(tokenizer: Any) -> str | None:
    """The special token the template puts right after an answer (``<|im_end|>``, ``<|eot_id|>``,
    ``</s>``), or None when the answer is followed by plain text only."""
    messages = [*_PROBE, {"role": "assistant", "content": _PROBE_ANSWER}]
    full = _render(tokenizer, messages, prompt_only=False)
    start = full.rindex(_PROBE_ANSWER) + len(_PROBE_ANSWER)
    rest = full[start:]
    specials = sorted((t for t in tokenizer.all_special_tokens + list(tokenizer.get_added_vocab()) if t), key=len, reverse=True)
    stripped = rest.lstrip(" ")
    for token in specials:
        if stripped.startswith(token):
            return token
    return None


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Token ids that end a generated answer: the turn end and EOS."""
    ids = [tokenizer.eos_token_id]
    end = turn_end_token(tokenizer)
    if end is not None:
        ids.append(tokenizer.convert_tokens_to_ids(end))
    return sorted({i for i in ids if i is not None})
