"""Evaluation of a twin against its base (and the current production version) on the test split.

Every model is scored on the same held-out examples, in the prompt shape the twin is served with
(the twin's system message, sources, request), with the chat template saved in its folder:

- bits per byte (and perplexity) of the author's held-out answers given the prompt: how well the
  model predicts the author's own words. Bits per byte divides by the answer's UTF-8 length, so
  it compares models whose tokenizers differ; lower is better;
- style: the model's generated answers, embedded, against the author's held-out answers and
  against other authors' texts (a distractor set). ``style_margin`` is how much closer to the
  author than to the others they are; higher is better. ``style_similarity`` (closeness to the
  author's centroid) is kept beside it;
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

from twin_core.models.chat import encode_chat

Embed = Callable[[Sequence[str]], np.ndarray]
Conversation = list[dict[str, str]]
# Other authors' texts for the style check, written for the sample corpus.
DEFAULT_DISTRACTORS = Path(__file__).resolve().parents[2] / "samples" / "distractors" / "texts.jsonl"


def load_distractors(path: str | Path | None = None) -> list[str]:
    """Other authors' texts (JSON lines with ``text``); [] when the file is absent, in which
    case the style figure is the similarity to the author's centroid alone."""
    file = Path(path) if path else DEFAULT_DISTRACTORS
    if not file.is_file():
        if path:
            raise FileNotFoundError(f"the distractor texts {file} do not exist: give a JSON-lines file with a \"text\" per line")
        return []
    rows = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    return [row["text"] for row in rows if row.get("text", "").strip()]

# What each figure means and which way is better: shown by `twin models compare` and the asset.
METRIC_EXPLANATIONS = {
    "bits_per_byte": "how surprised the model is by the author's held-out answers, per byte of text (lower is better; comparable across tokenizers)",
    "perplexity": "the same surprise per token (lower is better; compare only models with one tokenizer)",
    "style_margin": "how much closer the model's answers are to the author's held-out writing than to other authors' texts (higher is better)",
    "style_closer_share": "share of the model's answers closer to the author than to the other authors (higher is better)",
    "style_similarity": "closeness of the model's answers to the author's writing overall (higher is better)",
    "judge_style": "an LLM judge's 1-3 rating of how much the answers read like the author (higher is better)",
    "judge_accuracy": "an LLM judge's 1-3 rating of how relevant and correct the answers are (higher is better)",
    "answer_tokens": "answer tokens scored (all held-out examples)",
}


@dataclass(frozen=True)
class Likelihood:
    nll: float  # total negative log-likelihood of the answer tokens, in nats
    tokens: int
    bytes: int  # UTF-8 bytes of the answers' text

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll / self.tokens)

    @property
    def bits_per_byte(self) -> float:
        return self.nll / math.log(2) / self.bytes


def answer_likelihood(model: Any, tokenizer: Any, conversations: Sequence[Conversation], max_length: int = 1024) -> Likelihood:
    """Likelihood of each conversation's final answer (and its end of turn) given the prompt.

    The scored tokens are exactly those ``encode_chat`` marks as the answer: the same mask SFT
    trains on, so training and evaluation agree on what the answer is for any chat template.
    """
    import torch

    total_nll, total_tokens, total_bytes = 0.0, 0, 0
    for messages in conversations:
        encoded = encode_chat(tokenizer, messages, max_length)
        ids = torch.tensor([encoded.input_ids])
        mask = torch.tensor([encoded.answer_mask], dtype=torch.bool)
        n = int(mask[:, 1:].sum())
        if n == 0:
            continue
        with torch.no_grad():
            logits = model(input_ids=ids).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
        total_nll += float(nll[mask[:, 1:].reshape(-1)].sum())
        total_tokens += n
        total_bytes += len(messages[-1]["content"].encode())
    if total_tokens == 0:
        raise ValueError("no answer tokens to score: every prompt fills max_length")
    return Likelihood(total_nll, total_tokens, total_bytes)


def _normalised(vectors: Any) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    return array / np.clip(np.linalg.norm(array, axis=-1, keepdims=True), 1e-12, None)


def style_similarity(generated: Sequence[str], author_texts: Sequence[str], embed: Embed) -> float:
    """Mean cosine of each generated text to the author's centroid (vectors L2-normalised)."""
    texts = [t if t.strip() else " " for t in generated]
    if not texts or not author_texts:
        raise ValueError("style similarity needs generated texts and author texts")
    centroid = _normalised(_normalised(embed(list(author_texts))).mean(axis=0))
    return float((_normalised(embed(texts)) @ centroid).mean())


def style_against_others(
    generated: Sequence[str], held_out: Sequence[str], others: Sequence[str], embed: Embed,
) -> dict[str, float]:
    """Generated answers against the author's held-out answers and other authors' texts.

    For each answer: its mean cosine to the author's held-out texts minus its mean cosine to the
    other authors' texts. ``style_margin`` averages that; ``style_closer_share`` counts the
    answers for which it is positive.
    """
    texts = [t if t.strip() else " " for t in generated]
    answers = _normalised(embed(texts))
    to_author = (answers @ _normalised(embed(list(held_out))).T).mean(axis=1)
    to_others = (answers @ _normalised(embed(list(others))).T).mean(axis=1)
    margin = to_author - to_others
    return {
        "style_margin": float(margin.mean()),
        "style_closer_share": float((margin > 0).mean()),
        "style_to_author": float(to_author.mean()),
        "style_to_others": float(to_others.mean()),
    }


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
    conversations: Sequence[Conversation],
    author_texts: Sequence[str],
    embed: Embed,
    judge: Judge | None = None,
    max_new_tokens: int = 48,
    distractors: Sequence[str] = (),
    style_examples: int = 16,
) -> dict[str, Any]:
    """All metrics of one model on the same held-out conversations (prompt + the author's answer).

    Likelihood uses every conversation; the generated answers (style, judge) the first
    ``style_examples``, in batches.
    """
    from twin_core.models.generate import generate_answers, load_model

    model, tokenizer = load_model(model_dir)
    scored = answer_likelihood(model, tokenizer, conversations)
    metrics: dict[str, Any] = {
        "perplexity": scored.perplexity, "bits_per_byte": scored.bits_per_byte, "answer_tokens": scored.tokens,
    }
    sample = list(conversations[:style_examples])
    generated = generate_answers(model, tokenizer, [c[:-1] for c in sample], max_new_tokens=max_new_tokens)
    metrics["style_similarity"] = style_similarity(generated, author_texts, embed)
    if distractors:
        metrics.update(style_against_others(generated, [c[-1]["content"] for c in conversations], distractors, embed))
    if judge is not None:
        request = [c[-2]["content"] for c in sample]
        scores = [s for q, c, g in zip(request, sample, generated, strict=True) if (s := judge.score(q, c[-1]["content"], g))]
        if scores:
            metrics["judge_accuracy"] = sum(s["accuracy"] for s in scores) / len(scores)
            metrics["judge_style"] = sum(s["style"] for s in scores) / len(scores)
            metrics["judged"] = len(scores)
    metrics["examples"] = len(conversations)
    metrics["samples"] = [
        {"instruction": c[-2]["content"].rsplit("Request: ", 1)[-1][:200], "answer": g[:300]}
        for c, g in list(zip(sample, generated, strict=True))[:3]
    ]
    return metrics


@dataclass(frozen=True)
class PromotionDecision:
    passed: bool
    reasons: list[str]


def _style_key(*results: dict[str, Any]) -> str:
    """The style figure every result has: the margin against other authors, else similarity."""
    return "style_margin" if all("style_margin" in r for r in results) else "style_similarity"


def promotion_decision(
    candidate: dict[str, Any],
    base: dict[str, Any],
    production: dict[str, Any] | None = None,
    bpb_tolerance: float = 0.0,
    style_tolerance: float = 0.0,
) -> PromotionDecision:
    """The gate: the twin predicts the author's held-out answers better than its base (bits per
    byte), writes no less like the author than its base (style), does not regress against
    production on either, and, when an LLM judge scored both, rates no lower on style.

    All figures were measured on the same test split by the same code, so they compare.
    """
    reasons: list[str] = []
    passed = True

    def check(ok: bool, good: str, bad: str) -> None:
        nonlocal passed
        passed = passed and ok
        reasons.append(good if ok else bad)

    c_bpb, b_bpb = candidate["bits_per_byte"], base["bits_per_byte"]
    check(c_bpb < b_bpb,
          f"predicts the author's held-out writing better than the base: {c_bpb:.3f} vs {b_bpb:.3f} bits per byte (lower is better)",
          f"does not predict the author's held-out writing better than the base: {c_bpb:.3f} vs {b_bpb:.3f} bits per byte (lower is better)")
    key = _style_key(candidate, base)
    c_style, b_style = candidate[key], base[key]
    check(c_style >= b_style - style_tolerance,
          f"writes at least as much like the author as the base: {key} {c_style:.3f} vs {b_style:.3f} (higher is better)",
          f"writes less like the author than the base: {key} {c_style:.3f} vs {b_style:.3f} (higher is better)")
    if "judge_style" in candidate and "judge_style" in base:
        check(candidate["judge_style"] >= base["judge_style"],
              f"the LLM judge rates its style no lower than the base's: {candidate['judge_style']:.2f} vs {base['judge_style']:.2f}",
              f"the LLM judge rates its style lower than the base's: {candidate['judge_style']:.2f} vs {base['judge_style']:.2f}")
    if production is not None:
        p_bpb = production.get("bits_per_byte")
        if p_bpb is not None:
            check(c_bpb <= p_bpb * (1 + bpb_tolerance),
                  f"no regression against production: {c_bpb:.3f} vs {p_bpb:.3f} bits per byte",
                  f"regresses against production: {c_bpb:.3f} vs {p_bpb:.3f} bits per byte (lower is better)")
        key = _style_key(candidate, production)
        if key in production:
            check(candidate[key] >= production[key] - max(style_tolerance, 0.02),
                  f"style within production's: {key} {candidate[key]:.3f} vs {production[key]:.3f}",
                  f"style regresses against production: {key} {candidate[key]:.3f} vs {production[key]:.3f} (higher is better)")
    return PromotionDecision(passed, reasons)
