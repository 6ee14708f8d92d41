"""Batched greedy generation from a local HF model folder (preference data, evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twin_core.models.chat import prepare_tokenizer, stop_token_ids


def load_model(model_dir: str | Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prepare_tokenizer(tokenizer)  # the folder's own template (saved in training), else the default
    tokenizer.padding_side = "left"  # decoder-only batches must end where generation starts
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.eval()
    return model, tokenizer


def generate_answers(
    model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]],
    max_new_tokens: int = 64, batch_size: int = 16, min_new_tokens: int = 1,
    repetition_penalty: float = 1.2, temperature: float = 0.0, seed: int = 0,
) -> list[str]:
    """Answers to chat prompts, special tokens stripped; deterministic.

    ``temperature=0`` decodes greedily; above 0 it samples with a seeded generator, so the
    same model and prompts give the same texts.

    Generation ends at the chat template's end of turn (or EOS). Other special tokens are
    suppressed and at least ``min_new_tokens`` are generated, with a mild repetition penalty: an
    untrained model would otherwise often answer with nothing but specials or one repeated
    newline, which strip to an empty string.
    """
    import torch

    stops = stop_token_ids(tokenizer)
    suppress = sorted(set(tokenizer.all_special_ids) - set(stops))

    texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]
    # Prompts of similar length share a batch: less padding to compute on. Answers come back in
    # the order of the prompts.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    answers: list[str] = [""] * len(texts)
    for start in range(0, len(order), batch_size):
        picked = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in picked], return_tensors="pt", padding=True, add_special_tokens=False)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            torch.manual_seed(seed + start)
            sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95}
        with torch.no_grad():
            output = model.generate(
                **batch, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                repetition_penalty=repetition_penalty, **sampling,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=stops, suppress_tokens=suppress or None,
            )
        new_tokens = output[:, batch["input_ids"].shape[1]:]
        for i, text in zip(picked, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True):
            answers[i] = text.strip()
    return answers
