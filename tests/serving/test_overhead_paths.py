"""The cheaper paths behave as the general ones: token counts, prompt assembly, generation."""

from __future__ import annotations

import pytest

from twin_serving.rag.prompt import SourceText, build_prompt

TEXTS = [
    "",
    "Small teams ship every release.",
    "<|begin|><|user|>\nhello ☃ é<|end|>\n",
    "  spaced   out \n\n tabs\tand <source id=\"1\">data</source>",
    "word " * 300,
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from twin_serving.service import load_tokenizer

    return load_tokenizer(str(tiny_model_dir))


def test_token_counter_counts_what_the_tokenizer_counts(tokenizer):
    from twin_serving.service import TokenCounter

    counter = TokenCounter(tokenizer)
    for text in TEXTS:
        assert counter.text(text) == len(tokenizer(text, add_special_tokens=False)["input_ids"])
    # The tokenizer's own truncation settings never leak into the counts.
    tokenizer("word " * 300, truncation=True, max_length=5)
    assert counter.text(TEXTS[-1]) == len(tokenizer(TEXTS[-1], add_special_tokens=False)["input_ids"])
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    rendered = counter.render(messages)
    assert rendered == tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert counter.render([dict(m) for m in messages]) == rendered
    assert counter.render(messages[1:]) != rendered
    assert counter.prompt(messages) == counter.text(rendered)


def _counts():
    def count_text(text: str) -> int:
        return len(text.split())

    def count_prompt(messages) -> int:
        return sum(count_text(m["content"]) + 2 for m in messages)

    return count_text, count_prompt


@pytest.mark.parametrize("chars_per_token", [None, 1.0, 1000.0])
def test_prompt_whole_or_source_by_source_agree(chars_per_token):
    count_text, count_prompt = _counts()
    sources = [SourceText("past", f"u{i}", f"t{i}", f"chunk {i} " * 20) for i in range(5)]
    for budget in (1000, 220, 140):
        built = build_prompt("Write about X", sources, count_prompt=count_prompt, count_text=count_text,
                             budget=budget, chars_per_token=chars_per_token)
        assert built.tokens == count_prompt(built.messages) <= budget
        assert built.dropped == len(sources) - len(built.used)
        if budget == 1000:
            assert built.used == sources
        else:
            assert 0 < len(built.used) < len(sources)
        ids = [f'<source id="{i}"' for i in range(1, len(built.used) + 1)]
        assert all(i in built.messages[-1]["content"] for i in ids)


def test_generation_paths_give_the_same_tokens(tiny_model_dir):
    from twin_serving.engine import Engine, GenerationParams

    engine = Engine(lambda: (str(tiny_model_dir), "test"))
    engine.load()
    params = GenerationParams(max_new_tokens=12)
    seen = []
    detailed = engine.generate("Small teams", params, on_token=seen.append, prefill=True)
    plain = engine.generate("Small teams", params, logprobs=False)
    assert plain.text == detailed.text and plain.finish_reason == detailed.finish_reason
    assert [(t.id, t.text, t.special) for t in plain.tokens] == [(t.id, t.text, t.special) for t in detailed.tokens]
    assert seen == detailed.tokens
    assert all(t.logprob is None for t in plain.tokens) and plain.prefill == []
    assert all(t.logprob is not None and t.logprob <= 0 for t in detailed.tokens)
    assert [i for i, _ in detailed.prefill] == engine.validate("Small teams", params)
