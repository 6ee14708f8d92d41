"""``twin models list|compare`` read the registry named by the settings (TWIN_HOME)."""

from __future__ import annotations

import pytest

from twin_cli.main import main
from twin_core.object_store import LocalFolderStore
from twin_core.registry import PRODUCTION, twin_registry
from twin_core.settings import get_settings


@pytest.fixture
def registry(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    get_settings.cache_clear()
    # The shipped twin.yaml's one author: `twin models` needs no --author.
    twin = twin_registry(LocalFolderStore(get_settings().store_root), "tamsin-vale")
    common = {"base_model": {"name": "base", "version": "b1"}}
    twin.register(tiny_model_dir, {**common, "dataset": {"name": "instruction", "version": "d1"},
                                   "hyperparameters": {"learning_rate": 0.02, "lora_r": 16},
                                   "launcher": {"launcher": "kubernetes", "nproc": 4, "deepspeed": "zero2"},
                                   "training": {"peak_gpu_memory_gb": 21.5, "sft": {
                                       "steps": 4, "tokens_per_second": 812.0, "train_runtime_s": 3.5,
                                       "loss_curve": [[1, 3.0], [2, 2.5], [3, 2.0], [4, 1.5]],
                                       "eval_loss_curve": [[2, 2.8], [4, 2.2]]}}})
    twin.register(tiny_model_dir, {**common, "dataset": {"name": "instruction", "version": "d2"},
                                   "hyperparameters": {"learning_rate": 0.01, "lora_r": 16},
                                   "training": {"sft": {"steps": 4, "loss_curve": [[1, 3.0], [2, 3.0], [3, 3.0], [4, 2.9]]}}})
    twin.update_card("v1", metrics={"perplexity": 700.5, "bits_per_byte": 2.5, "style_margin": 0.21},
                     evaluation={"baselines": {"base": {"perplexity": 726.8, "bits_per_byte": 2.75}},
                                 "promotion": {"passed": True, "reasons": ["predicts the author's held-out writing better than the base"]}})
    twin.set_alias(PRODUCTION, "v1")
    yield twin
    get_settings.cache_clear()


def test_list_shows_versions_aliases_lineage_and_metrics(registry, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["version", "aliases", "created_at", "dataset", "base"]
    v1 = next(line for line in out if line.startswith("v1"))
    assert "production" in v1 and "d1" in v1 and "700.5" in v1 and "2.75" in v1 and "0.21" in v1
    assert next(line for line in out if line.startswith("v2")).split()[1] == "-"


def test_compare_marks_differences(registry, capsys):
    assert main(["models", "compare", "production", "v2"]) == 0
    out = capsys.readouterr().out
    table, notes = out.split("\n(* differs)\n")
    lines = table.splitlines()
    assert lines[0].split() == ["field", "v1", "v2"]
    row = {line[2:].split()[0]: line for line in lines[2:] if line.strip()}
    assert row["hp.learning_rate"].startswith("* ") and "0.02" in row["hp.learning_rate"]
    assert not row["hp.lora_r"].startswith("* ")
    assert row["dataset"].split()[-2:] == ["instruction/d1", "instruction/d2"]
    assert row["promotion"].split()[-2:] == ["passed", "-"]
    assert row["train.tokens_per_second"].split()[-2:] == ["812", "-"]
    assert row["train.peak_gpu_memory_gb"].split()[-2:] == ["21.5", "-"]
    assert row["launcher"].split()[-4:] == ["deepspeed=zero2", "launcher=kubernetes", "nproc=4", "-"]
    assert "train.dpo_final_loss" not in row and "train.resumed_from_step" not in row  # neither version has one
    # The loss curves, both on one scale: v1 falls to the bottom, v2 stays near the top.
    curves = notes[notes.index("training loss"):]
    v1_bars, v2_bars = (line.split()[1] for line in curves.splitlines()[1:3])
    assert v1_bars == "█▆▃▁" and v2_bars == "████"
    assert "3.000 -> 1.500 over 4 steps" in curves and "eval loss (one scale, 2.200 to 2.800)" in curves
    # Each figure shown is explained in words, with the direction that is better.
    assert "bits_per_byte: how surprised the model is by the author's held-out answers" in notes
    assert "(lower is better" in notes and "style_margin:" in notes and "(higher is better)" in notes
    assert "v1 passed the gate:\n  - predicts the author's held-out writing better than the base" in notes


def test_unknown_version_is_one_line_error(registry, capsys):
    assert main(["models", "compare", "v1", "v9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("twin models: error:") and "v9" in err and len(err.strip().splitlines()) == 1


def test_several_authors_need_the_author_named(registry, tmp_path, monkeypatch, capsys):
    profiles = tmp_path / "two.yaml"
    profiles.write_text("authors:\n  - name: Tamsin Vale\n  - name: Ines Duarte\n")
    monkeypatch.setenv("TWIN_PROFILES", str(profiles))
    get_settings.cache_clear()
    assert main(["models", "list"]) == 1
    assert "several authors (tamsin-vale, ines-duarte): name one with --author" in capsys.readouterr().err
    assert main(["models", "list", "--author", "tamsin-vale"]) == 0
    assert "production" in capsys.readouterr().out
    assert main(["models", "list", "--author", "ines-duarte"]) == 0
    assert "no twin versions registered yet" in capsys.readouterr().out


def test_empty_registry(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert main(["models", "list"]) == 0
    finally:
        get_settings.cache_clear()
    assert "no twin versions registered yet" in capsys.readouterr().out
