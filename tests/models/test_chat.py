"""Chat templates real models have: SmolLM2's ChatML, a Llama-3.1-style template, a Mistral
``[INST]`` template and none, all on SmolLM2's tokenizer. For each: SFT trains on the answer's
tokens only, evaluation scores exactly those tokens, and generation stops at the turn end."""

from __future__ import annotations

import pytest

from twin_core.models.chat import (
    DEFAULT_CHAT_TEMPLATE,
    encode_chat,
    prepare_tokenizer,
    stop_token_ids,
)
from twin_core.prompts import SourceText, twin_prompt

# Written for these tests in the layout of each family (not copied from any model repository).
LLAMA31_STYLE = (
    "{{ bos_token }}{% for m in messages %}"
    "<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
MISTRAL_INST = (
    "{{ bos_token }}{% set system = messages[0]['content'] if messages[0]['role'] == 'system' else '' %}"
    "{% for m in messages if m['role'] != 'system' %}"
    "{% if m['role'] == 'user' %}[INST] {% if loop.first and system %}{{ system }}\n\n{% endif %}{{ m['content'] }} [/INST]"
    "{% else %} {{ m['content'] }}</s>{% endif %}{% endfor %}"
)
EXTRA_TOKENS = {
    "llama31": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    "mistral": ["[INST]", "[/INST]", "</s>"],
}
TURN_END = {"chatml": "<|im_end|>", "llama31": "<|eot_id|>", "mistral": "</s>", "none": "<|im_end|>"}
ANSWER = "Evaluation is the spec. I learned that the hard way, twice."


def _tokenizer(folder, family: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if family in EXTRA_TOKENS:
        tokenizer.add_special_tokens({"additional_special_tokens": EXTRA_TOKENS[family]})
    template = {"chatml": None, "llama31": LLAMA31_STYLE, "mistral": MISTRAL_INST, "none": None}[family]
    if family == "none":
        tokenizer.chat_template = None  # a base that ships without a template
    prepare_tokenizer(tokenizer, template)
    return tokenizer


def _messages() -> list[dict[str, str]]:
    sources = [SourceText("past", "https://example.com/p", "Old post", "Gates that block are gates.")]
    return [*twin_prompt("Write a LinkedIn post about evaluation gates.", "Tamsin Vale", "linkedin", sources),
            {"role": "assistant", "content": ANSWER}]


FAMILIES = ["chatml", "llama31", "mistral", "none"]


@pytest.mark.parametrize("family", FAMILIES)
def test_the_answer_mask_covers_the_answer_and_its_turn_end_only(smollm2_tokenizer_dir, family):
    tokenizer = _tokenizer(smollm2_tokenizer_dir, family)
    if family == "none":
        assert tokenizer.chat_template == DEFAULT_CHAT_TEMPLATE
    encoded = encode_chat(tokenizer, _messages())
    answer_ids = [i for i, m in zip(encoded.input_ids, encoded.answer_mask, strict=True) if m]
    text = tokenizer.decode(answer_ids)
    assert text.strip().startswith(ANSWER)
    assert text.strip()[len(ANSWER):].strip() == TURN_END[family]
    # Exactly the answer's own tokens plus the turn end (and the template's trailing newline).
    alone = tokenizer(" " + ANSWER if family == "mistral" else ANSWER, add_special_tokens=False)["input_ids"]
    assert len(alone) + 1 <= encoded.answer_tokens <= len(alone) + 2
    # Nothing of the prompt is in the mask: it is one contiguous run at the end.
    first = encoded.answer_mask.index(1)
    assert all(encoded.answer_mask[first:]) and not any(encoded.answer_mask[:first])
    assert "Tamsin Vale" in tokenizer.decode(encoded.input_ids[:first])
    assert "SmolLM" not in tokenizer.decode(encoded.input_ids)  # the base's identity never leaks in


def _tiny_model(tokenizer, always: int | None = None):
    """A random 1-layer Llama on this vocabulary; ``always`` makes it end every turn at once."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=False,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    model = LlamaForCausalLM(config)
    if always is not None:
        head = torch.nn.Linear(16, len(tokenizer), bias=True)
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
        head.bias.data[always] = 50.0
        head.bias.data[len(tokenizer) // 2] = 10.0  # the runner-up while the turn end is not allowed
        model.lm_head = head
    return model.eval()


@pytest.mark.parametrize("family", FAMILIES)
def test_sft_labels_are_the_answer_tokens_only(smollm2_tokenizer_dir, family, tmp_path):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from twin_core.training.run import sft_rows

    tokenizer = _tokenizer(smollm2_tokenizer_dir, family)
    rows = sft_rows(tokenizer, [{"messages": _messages()}], max_length=512, answer_only=True)
    args = SFTConfig(output_dir=str(tmp_path), max_steps=1, report_to=[], use_cpu=True, assistant_only_loss=False,
                     max_length=512, disable_tqdm=True)
    trainer = SFTTrainer(model=_tiny_model(tokenizer), args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer)
    example = trainer.train_dataset[0]
    labelled = [t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label != -100]
    assert labelled == [t for t, m in zip(rows[0]["input_ids"], rows[0]["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(labelled).strip().startswith(ANSWER)
    batch = trainer.data_collator([example])
    assert int((batch["labels"] != -100).sum()) == len(labelled)


@pytest.mark.parametrize("family", FAMILIES)
def test_evaluation_scores_exactly_the_answer_tokens(smollm2_tokenizer_dir, family):
    from twin_core.training.evaluation import answer_likelihood

    tokenizer = _tokenizer(smollm2_tokenizer_dir, family)
    encoded = encode_chat(tokenizer, _messages())
    scored = answer_likelihood(_tiny_model(tokenizer), tokenizer, [_messages(), _messages()])
    assert scored.tokens == 2 * encoded.answer_tokens
    assert scored.bytes == 2 * len(ANSWER.encode())
    assert scored.perplexity > 1 and scored.bits_per_byte > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_generation_stops_at_the_turn_end(smollm2_tokenizer_dir, family):
    from twin_core.models.generate import generate_answers

    tokenizer = _tokenizer(smollm2_tokenizer_dir, family)
    end = tokenizer.convert_tokens_to_ids(TURN_END[family])
    assert end in stop_token_ids(tokenizer)
    model = _tiny_model(tokenizer, always=end)
    answers = generate_answers(model, tokenizer, [_messages()[:-1]], max_new_tokens=24, min_new_tokens=2,
                               repetition_penalty=1.0)
    # Two forced tokens (the runner-up), then the turn end: without it as a stop token all 24 would come.
    runner_up = len(tokenizer) // 2
    assert answers[0] == tokenizer.decode([runner_up, runner_up], skip_special_tokens=True).strip()
