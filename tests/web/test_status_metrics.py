"""The status panel explains every figure the evaluation writes: its meaning, which way is
better, and whether the twin beat its base on it."""

from __future__ import annotations

from twin_serving.web.status import METRIC_GUIDE, explained_metrics

# The figures model_evaluation writes on a card (twin_core.training.evaluation).
EVALUATED = ["bits_per_byte", "perplexity", "style_margin", "style_closer_share", "style_similarity",
             "judge_accuracy", "judge_style", "judged", "examples"]


def test_every_evaluated_figure_has_a_meaning_and_a_direction():
    for key in EVALUATED:
        assert key in METRIC_GUIDE and METRIC_GUIDE[key]["meaning"], key
    assert METRIC_GUIDE["bits_per_byte"]["better"] == "lower"
    assert METRIC_GUIDE["style_margin"]["better"] == "higher"


def test_the_verdict_follows_each_figures_direction():
    twin = {"bits_per_byte": 1.22, "style_margin": 0.06, "style_similarity": 0.40, "examples": 24}
    base = {"bits_per_byte": 1.31, "style_margin": 0.002, "style_similarity": 0.52, "examples": 24}
    rows = {row["key"]: row for row in explained_metrics(twin, base)}
    assert rows["bits_per_byte"]["verdict"] == "better"  # lower
    assert rows["style_margin"]["verdict"] == "better"  # higher
    assert rows["style_similarity"]["verdict"] == "worse"
    assert rows["examples"]["verdict"] is None  # a count, not a score
    assert list(rows)[:2] == ["bits_per_byte", "style_margin"]  # the gate's figures first
