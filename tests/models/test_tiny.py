"""The offline base model loads as a normal HF folder, chats, masks answers and is reproducible."""

import hashlib

from tests.fixtures.tiny_model import tiny_corpus
from twin_core.models.tiny import build_tiny_model


def test_tiny_model_loads_and_generates(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "llama"
    assert tokenizer.model_input_names == ["input_ids", "attention_mask"]

    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Write a post about tests"}],
        add_generation_prompt=True, return_tensors="pt", return_dict=True,
    )
    assert "token_type_ids" not in prompt
    output = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert output.shape[1] > prompt["input_ids"].shape[1]


def test_chat_template_masks_only_the_answer_and_its_end(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [
        {"role": "user", "content": "Write a post about tests"},
        {"role": "assistant", "content": "Good tests save every release."},
    ]
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    answer = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(answer) == "Good tests save every release.<|end|>"


def test_same_corpus_gives_identical_files(tmp_path, tiny_model_dir):
    rebuilt = build_tiny_model(tiny_corpus(), tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        first = hashlib.sha256((tiny_model_dir / name).read_bytes()).hexdigest()
        assert hashlib.sha256((rebuilt / name).read_bytes()).hexdigest() == first


def test_empty_corpus_is_refused(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="empty corpus"):
        build_tiny_model(["  ", ""], tmp_path / "none")
