"""Real TRL training of the tiny model: plain in-process, DeepSpeed ZeRO-2/ZeRO-3 at world size 1
(plain ``python`` with a DeepSpeed config) and two processes under torchrun (gloo on CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin_core.training.config import TrainingConfig
from twin_core.training.launch import TrainingFailed, launch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sft_dataset_dir(tmp_path_factory) -> Path:
    from tests.fixtures.tiny_model import tiny_corpus

    folder = tmp_path_factory.mktemp("sft_data")
    sentences = tiny_corpus()[:16]
    with open(folder / "train.jsonl", "w") as handle:
        for sentence in sentences:
            messages = [
                {"role": "user", "content": f"Write a post about {sentence.split()[1]}."},
                {"role": "assistant", "content": sentence},
            ]
            handle.write(json.dumps({"messages": messages, "id": sentence}) + "\n")
    with open(folder / "test.jsonl", "w") as handle:
        for sentence in tiny_corpus()[16:20]:
            messages = [
                {"role": "user", "content": f"Write a post about {sentence.split()[1]}."},
                {"role": "assistant", "content": sentence},
            ]
            handle.write(json.dumps({"messages": messages, "id": sentence}) + "\n")
    return folder


def _config(tiny_model_dir, sft_dataset_dir, out: Path, **overrides) -> TrainingConfig:
    settings = dict(
        base_model_dir=str(tiny_model_dir), dataset_dir=str(sft_dataset_dir), output_dir=str(out),
        max_steps=4, per_device_train_batch_size=8, learning_rate=1e-2, max_length=64,
    )
    return TrainingConfig(**{**settings, **overrides})


def _assert_trained(result: dict, tiny_model_dir: Path) -> None:
    from safetensors.torch import load_file

    curve = result["sft"]["loss_curve"]
    assert len(curve) == 4
    assert curve[-1][1] < curve[0][1], curve
    # The test split was evaluated at the end of SFT.
    assert result["sft"]["eval_loss_curve"][-1][0] == 4 and 0 < result["sft"]["eval_loss"] < 20
    assert result["peak_gpu_memory_gb"] is None  # on CPU; a GPU run reports its peak (GiB)
    merged = Path(result["merged_dir"])
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(merged / "model.safetensors")
    assert set(after) == set(before)  # merged: plain Llama weights, no LoRA leftovers
    assert any(not (after[k] == before[k]).all() for k in before)
    assert (merged / "tokenizer.json").is_file()


def test_plain_lora_sft_in_process_then_dpo(tiny_model_dir, sft_dataset_dir, tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    rows = [json.loads(line) for line in (sft_dataset_dir / "train.jsonl").read_text().splitlines()]
    with open(pairs / "train.jsonl", "w") as handle:
        for row in rows:
            user, answer = row["messages"]
            handle.write(json.dumps({
                "prompt": [user], "chosen": [answer],
                "rejected": [{"role": "assistant", "content": "Buy now. Subscribe."}],
            }) + "\n")
    config = _config(tiny_model_dir, sft_dataset_dir, tmp_path / "out",
                     preference_dataset_dir=str(pairs), dpo_max_steps=2)
    result = launch(config, "in_process")
    _assert_trained(result, tiny_model_dir)
    assert len(result["dpo"]["loss_curve"]) == 2
    assert result["sft"]["tokens_per_second"] > 0
    assert (Path(result["adapter_dir"]) / "adapter_config.json").is_file()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(result["merged_dir"])
    tokenizer = AutoTokenizer.from_pretrained(result["merged_dir"])
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Write a post about tests."}],
        add_generation_prompt=True, return_tensors="pt", return_dict=True,
    )
    assert model.generate(**prompt, max_new_tokens=4).shape[1] > prompt["input_ids"].shape[1]


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
def test_deepspeed_single_process(stage, tiny_model_dir, sft_dataset_dir, tmp_path):
    result = launch(_config(tiny_model_dir, sft_dataset_dir, tmp_path / stage, deepspeed=stage), "python")
    assert result["world_size"] == 1 and result["deepspeed"] == stage
    # ZeRO-3 shards the weights as they load; ZeRO-2 keeps whole weights on every rank.
    assert result["sft"]["partitioned_at_load"] is (stage == "zero3")
    _assert_trained(result, tiny_model_dir)


def test_torchrun_two_processes_with_zero2(tiny_model_dir, sft_dataset_dir, tmp_path):
    config = _config(tiny_model_dir, sft_dataset_dir, tmp_path / "ddp", deepspeed="zero2",
                     per_device_train_batch_size=4)
    result = launch(config, "torchrun", nproc=2)
    assert result["world_size"] == 2
    _assert_trained(result, tiny_model_dir)


def test_eval_steps_give_an_eval_loss_curve_and_missing_trackers_are_refused(tiny_model_dir, sft_dataset_dir, tmp_path):
    from twin_core.training.run import train

    result = train(_config(tiny_model_dir, sft_dataset_dir, tmp_path / "eval", eval_steps=2))
    steps = [step for step, _ in result["sft"]["eval_loss_curve"]]
    assert steps == [2, 4]
    assert result["sft"]["eval_loss"] == result["sft"]["eval_loss_curve"][-1][1]
    with pytest.raises(ValueError, match="report_to names mlflow, which is not installed here: pip install mlflow"):
        train(_config(tiny_model_dir, sft_dataset_dir, tmp_path / "tracked", report_to=["mlflow"]))


def test_failed_run_reports_its_log(tiny_model_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "train.jsonl").write_text("")
    with pytest.raises(TrainingFailed, match="holds no rows"):
        launch(_config(tiny_model_dir, empty, tmp_path / "out"), "python")


def test_unknown_settings_and_configs_are_refused(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"base_model_dir": "b", "dataset_dir": "d", "output_dir": "o", "lr": 1}))
    with pytest.raises(ValueError, match="unknown training settings"):
        TrainingConfig.load(path)
    with pytest.raises(ValueError, match="unknown DeepSpeed config"):
        TrainingConfig("b", "d", "o", deepspeed="zero9").deepspeed_config_path()
