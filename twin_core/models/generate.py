"""Batched greedy generation from a local HF model folder (preference data, evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_model(model_dir: str | Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"  # decoder-only batches must end where generation starts
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.eval()
    return model, tokenizer


def generate_answers(
    model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]],
    max_new_tokens: int = 64, batch_size: int = 16,
) -> list[str]:
    """Greedy (deterministic) answers to chat prompts, special tokens stripped."""
    import torch

    answers: list[str] = []
    for start in range(0, len(prompts), batch_size):
        texts = [
            tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
            for p in prompts[start:start + batch_size]
        ]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            output = model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = output[:, batch["input_ids"].shape[1]:]
        answers.extend(t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    return answers
