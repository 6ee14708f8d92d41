"""The promotion gate, figure by figure: a twin goes to production only when it predicts the
author's held-out writing better than its base, writes no less like them, does not regress
against production, and is rated no lower by the LLM judge when one scored both."""

from __future__ import annotations

import pytest

from twin_core.training.evaluation import promotion_decision

BASE = {"bits_per_byte": 1.30, "style_margin": 0.002}
GOOD = {"bits_per_byte": 1.22, "style_margin": 0.060}


def test_a_twin_better_on_every_figure_passes_with_a_reason_each():
    decision = promotion_decision(GOOD, BASE, production={"bits_per_byte": 1.25, "style_margin": 0.05})
    assert decision.passed
    assert len(decision.reasons) == 4
    assert "1.220 vs 1.300 bits per byte" in decision.reasons[0]


@pytest.mark.parametrize(("candidate", "production", "failing"), [
    ({**GOOD, "bits_per_byte": 1.31}, None, "does not predict the author's held-out writing better than the base"),
    ({**GOOD, "style_margin": -0.01}, None, "writes less like the author than the base"),
    (GOOD, {"bits_per_byte": 1.20, "style_margin": 0.05}, "regresses against production: 1.220 vs 1.200"),
    (GOOD, {"bits_per_byte": 1.25, "style_margin": 0.09}, "style regresses against production"),
    ({**GOOD, "judge_style": 2.0}, None, "the LLM judge rates its style lower than the base's"),
])
def test_one_worse_figure_blocks_and_is_named(candidate, production, failing):
    base = {**BASE, "judge_style": 2.5} if "judge_style" in candidate else BASE
    decision = promotion_decision(candidate, base, production=production)
    assert not decision.passed
    assert any(reason.startswith(failing) for reason in decision.reasons), decision.reasons


def test_tolerances_admit_a_twin_just_short_of_the_bar():
    close = {**GOOD, "style_margin": 0.0}
    assert not promotion_decision(close, BASE).passed
    assert promotion_decision(close, BASE, style_tolerance=0.01).passed
    production = {"bits_per_byte": 1.21}
    assert not promotion_decision(GOOD, BASE, production=production).passed
    assert promotion_decision(GOOD, BASE, production=production, bpb_tolerance=0.01).passed


def test_without_a_margin_the_style_similarity_is_compared():
    decision = promotion_decision({"bits_per_byte": 1.2, "style_similarity": 0.4},
                                  {"bits_per_byte": 1.3, "style_similarity": 0.5})
    assert not decision.passed and "style_similarity 0.400 vs 0.500" in decision.reasons[1]
