"""Evaluation of a twin against its base (and the current production version) on the test split.

- perplexity on the author's held-out answers (assistant tokens only): lower is closer to the
  author's words;
- style similarity: mean cosine between the embeddings of the model's generated answers and the
  centroid of the author's own texts;
- an optional LLM judge (accuracy and style, 1-3) over an OpenAI-compatible endpoint.

And the promotion rule the blocking asset check applies.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin_core.datasets.examples import Example

Embed = Callable[[Sequence[str]], np.ndarray]


def perplexity(model: Any, tokenizer: Any, examples: Sequence[Example], max_length: int = 512) -> float:
    """exp(mean NLL) of the author's answer tokens given the instruction."""
    import torch

    total_nll, total_tokens = 0.0, 0
    for ex in examples:
        out = tokenizer.apply_chat_template(
            ex.messages(), tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
        )
        ids = torch.tensor([out["input_ids"][:max_length]])
        mask = torch.tensor([out["assistant_masks"][:max_length]], dtype=torch.bool)
        labels = ids.masked_fill(~mask, -100)
        n = int(mask[:, 1:].sum())
        if n == 0:
            continue
        with torch.no_grad():
            loss = model(input_ids=ids, labels=labels).loss
        total_nll += float(loss) * n
        total_tokens += n
    if total_tokens == 0:
        raise ValueError("no answer tokens to score")
    return math.exp(total_nll / total_tokens)


def style_similarity(generated: Sequence[str], author_texts: Sequence[str], embed: Embed) -> float:
    """Mean cosine of each generated text to the author's centroid (vectors L2-normalised)."""
    texts = [t if t.strip() else " " for t in generated]
    if not texts or not author_texts:
        raise ValueError("style similarity needs generated texts and author texts")
    centroid = np.asarray(embed(list(author_texts)), dtype=np.float32).mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    vectors = np.asarray(embed(texts), dtype=np.float32)
    vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return float((vectors @ centroid).mean())


JUDGE_PROMPT = """You grade an AI twin that should answer like a specific author.
Instruction: {instruction}
The author's real answer: {reference}
The twin's answer: {answer}
Rate the twin's answer from 1 (poor) to 3 (excellent) for accuracy (is it relevant and correct
for the instruction?) and style (does it read like the author's answer?). Reply with JSON only:
{{"accuracy": <1-3>, "style": <1-3>}}"""


@dataclass
class Judge:
    """An LLM judge on any OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    base_url: str
    model: str = "tgi"
    api_key: str = ""
    timeout_s: float = 60.0

    def score(self, instruction: str, reference: str, answer: str) -> dict[str, float] | None:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        prompt = JUDGE_PROMPT.format(instruction=instruction, reference=reference, answer=answer)
        response = httpx.post(
            self.base_url.rstrip("/") + "/v1/chat/completions", headers=headers, timeout=self.timeout_s,
            json={"model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0},
        )
        response.raise_for_status()
        return parse_judgement(response.json()["choices"][0]["message"]["content"] or "")


def parse_judgement(text: str) -> dict[str, float] | None:
    match = re.search(r"\{.*?\}", text, flags=re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else None
        scores = {k: float(data[k]) for k in ("accuracy", "style")}
    except (TypeError, KeyError, ValueError):
        return None
    return scores if all(1 <= v <= 3 for v in scores.values()) else None


def evaluate_model(
    model_dir: str | Path,
    examples: Sequence[Example],
    author_texts: Sequence[str],
    embed: Embed,
    judge: Judge | None = None,
    max_new_tokens: int = 48,
) -> dict[str, Any]:
    """All metrics of one model on the same examples."""
    from twin_core.models.generate import generate_answers, load_model

    model, tokenizer = load_model(model_dir)
    metrics: dict[str, Any] = {"perplexity": perplexity(model, tokenizer, examples)}
    prompts = [[{"role": "user", "content": ex.instruction}] for ex in examples]
    generated = generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens)
    metrics["style_similarity"] = style_similarity(generated, author_texts, embed)
    if judge is not None:
        scores = [s for ex, g in zip(examples, generated, strict=True) if (s := judge.score(ex.instruction, ex.answer, g))]
        if scores:
            metrics["judge_accuracy"] = sum(s["accuracy"] for s in scores) / len(scores)
            metrics["judge_style"] = sum(s["style"] for s in scores) / len(scores)
            metrics["judged"] = len(scores)
    metrics["examples"] = len(examples)
    metrics["samples"] = [
        {"instruction": ex.instruction[:200], "answer": g[:300]} for ex, g in list(zip(examples, generated, strict=True))[:3]
    ]
    return metrics


@dataclass(frozen=True)
class PromotionDecision:
    passed: bool
    reasons: list[str]


def promotion_decision(
    candidate: dict[str, Any],
    base: dict[str, Any],
    production: dict[str, Any] | None = None,
    perplexity_tolerance: float = 0.0,
    style_tolerance: float = 0.02,
) -> PromotionDecision:
    """The twin must beat its base on perplexity and not regress against production.

    All three were measured on the same test split by the same code, so the numbers compare.
    """
    reasons = []
    passed = True
    if candidate["perplexity"] < base["perplexity"]:
        reasons.append(f"perplexity {candidate['perplexity']:.3f} beats base {base['perplexity']:.3f}")
    else:
        passed = False
        reasons.append(f"perplexity {candidate['perplexity']:.3f} does not beat base {base['perplexity']:.3f}")
    if production is not None:
        limit = production["perplexity"] * (1 + perplexity_tolerance)
        if candidate["perplexity"] <= limit:
            reasons.append(f"perplexity within production's {production['perplexity']:.3f}")
        else:
            passed = False
            reasons.append(f"perplexity regresses against production {production['perplexity']:.3f}")
        style_floor = production["style_similarity"] - style_tolerance
        if candidate["style_similarity"] >= style_floor:
            reasons.append(f"style {candidate['style_similarity']:.3f} within production's {production['style_similarity']:.3f}")
        else:
            passed = False
            reasons.append(f"style {candidate['style_similarity']:.3f} regresses against production {production['style_similarity']:.3f}")
    return PromotionDecision(passed, reasons)
