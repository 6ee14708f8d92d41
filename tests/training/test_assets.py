"""The datasets and training assets under real Dagster: dataset versions, the continuous
training job on the tiny model, the promotion gate both ways, re-runs and the automation."""

from __future__ import annotations

from dataclasses import replace

import dagster as dg
import pytest

from tests.datasets.documents import documents
from twin_assets import datasets, training
from twin_assets.authors import AUTHORS
from twin_assets.datasets.assets import instruction_dataset
from twin_core.authors import AuthorStore, author_slug
from twin_core.datasets.store import INSTRUCTION_DATASET, DatasetStore
from twin_core.documents import Document
from twin_core.object_store import LocalFolderStore
from twin_core.registry import BASE_MODEL, PRODUCTION, TWIN_MODEL, ModelRegistry
from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
from twin_resources.deployment import LocalModelDeploymentResource
from twin_resources.embedder import EmbedderResource
from twin_resources.llm import InstructionLLMResource
from twin_resources.object_store import LocalObjectStoreResource
from twin_resources.trainer import TrainerLauncherResource

pytestmark = pytest.mark.slow

FAST_TWIN = {"max_length": 256}  # defaults: 3 epochs, automatic learning rate
EVALUATION = {"style_examples": 4, "max_new_tokens": 12}
TINY_BASE = {"source": "tiny"}  # plumbing: the random test model, seconds to train
AUTHOR = author_slug(documents()[0].author)  # the partition these tests train


def _fill(store, docs):
    warehouse = DocumentWarehouse(store, CLEANED_PREFIX)
    for doc in docs:
        warehouse.upsert(doc)


@pytest.fixture
def setup(tmp_path):
    store = AuthorStore(LocalFolderStore(tmp_path / "store"), AUTHOR)
    _fill(store, documents())
    resources = {
        "object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
        "trainer": TrainerLauncherResource(work_dir=str(tmp_path / "work")),
        "embedder": EmbedderResource(),
        "instruction_llm": InstructionLLMResource(),
        "deployment": LocalModelDeploymentResource(),
    }
    defs = dg.Definitions.merge(datasets.defs, training.defs, dg.Definitions(resources=resources))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(AUTHORS.name, [AUTHOR])
    return store, defs, instance


def _ct_run_config(twin: dict) -> dict:
    return {"ops": {"base_model": {"config": TINY_BASE}, "twin_model": {"config": twin}, "model_evaluation": {"config": EVALUATION},
                    "preference_dataset": {"config": {"max_pairs_per_split": 4, "max_new_tokens": 8}}}}


def _run_training(defs, instance, twin: dict, tags: dict | None = None) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("continuous_training_job")
    return job.execute_in_process(run_config=_ct_run_config(twin), instance=instance, tags=tags, raise_on_error=False,
                                  partition_key=AUTHOR)


def _materialize_dataset(defs, instance) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def("dataset_job").execute_in_process(instance=instance, partition_key=AUTHOR)
    assert result.success
    return result


def test_an_adapter_only_twin_is_evaluated_and_promoted_on_a_merge_made_on_demand(setup, tmp_path):
    """merge_adapter off (the engine loads adapters): the registry holds the adapter alone, and
    evaluation gets the same model a merge on the training machine would have made."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    store, defs, instance = setup
    _materialize_dataset(defs, instance)
    run = _run_training(defs, instance, {**FAST_TWIN, "merge_adapter": False})
    assert run.success
    twin = ModelRegistry(store, TWIN_MODEL)
    card = twin.card(PRODUCTION)
    assert card["export"] == "adapter" and card["has_adapter"] and card["hyperparameters"]["merge_adapter"] is False
    assert not list(store.list_keys(f"models/twin/{card['version']}/model/"))
    assert store.exists(f"models/twin/{card['version']}/adapter/adapter_config.json")
    assert card["metrics"]["perplexity"] < card["evaluation"]["baselines"]["base"]["perplexity"]

    merged = AutoModelForCausalLM.from_pretrained(twin.materialize_version(PRODUCTION, tmp_path / "cache")).eval()
    base = ModelRegistry(store, BASE_MODEL).materialize_version("latest", tmp_path / "cache")
    adapter = twin.materialize_version(PRODUCTION, tmp_path / "cache", part="adapter")
    unmerged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter)).eval()
    ids = torch.tensor([[1, 5, 9, 13, 17, 21]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, unmerged(ids).logits, atol=1e-4)
        # ... and not the base: the adapter is in it.
        plain = AutoModelForCausalLM.from_pretrained(base).eval()
        assert not torch.allclose(merged(ids).logits, plain(ids).logits, atol=1e-4)


TRAINING = {"preference_dataset", "twin_model", "model_evaluation", "production_model"}


class Ticks:
    """Declarative automation ticks against ``defs``: each returns the asset names it requests."""

    def __init__(self, defs, instance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def __call__(self) -> set[str]:
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {k.to_user_string() for k in self.defs.resolve_all_asset_keys() if result.get_num_requested(k)}


def test_training_then_promotion_then_gate_blocks_a_worse_twin(setup):
    store, defs, instance = setup

    result = _materialize_dataset(defs, instance)
    version = DatasetStore(store).latest(INSTRUCTION_DATASET)
    materialization = result.asset_materializations_for_node("instruction_dataset")[0]
    assert materialization.tags["dagster/data_version"] == version
    assert materialization.metadata["rows"].value == len(DatasetStore(store).read(INSTRUCTION_DATASET, "train")) + len(
        DatasetStore(store).read(INSTRUCTION_DATASET, "test"))
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]

    # The training run trains, evaluates and, passing the gate, promotes.
    run = _run_training(defs, instance, FAST_TWIN)
    assert run.success
    pairs = run.asset_materializations_for_node("preference_dataset")[0].metadata
    assert pairs["pairs"].value == pairs["train_pairs"].value + pairs["test_pairs"].value > 0
    twin = ModelRegistry(store, TWIN_MODEL)
    assert twin.get_alias(PRODUCTION) == "v1"
    card = twin.card("v1")
    assert card["dataset"]["version"] == version
    assert card["base_model"]["version"] == ModelRegistry(store, BASE_MODEL).resolve("latest")
    assert card["hyperparameters"]["learning_rate"] == 2e-2  # automatic, for the tiny base
    assert card["metrics"]["perplexity"] < card["evaluation"]["baselines"]["base"]["perplexity"]
    assert len(card["training"]["sft"]["loss_curve"]) == card["training"]["sft"]["steps"] >= 3
    twin_meta = run.asset_materializations_for_node("twin_model")[0].metadata
    assert twin_meta["final_loss"].value < twin_meta["first_loss"].value
    # The dataset's test split was evaluated by the trainer: a figure Dagster plots run over run.
    assert 0 < twin_meta["eval_loss"].value == card["training"]["sft"]["eval_loss"]
    assert [c.passed for c in run.get_asset_check_evaluations() if c.check_name == "beats_baseline"] == [True]
    rollout = run.asset_materializations_for_node("production_model")[0].metadata["rollout"].value
    assert rollout["target"] == "local" and rollout["version"] == f"{AUTHOR}/v1"

    # A recipe that cannot learn (its one step is the warmup step, at learning rate 0) does not
    # beat its base: the blocking check fails, production_model does not run, the alias stays.
    worse = _run_training(defs, instance, {**FAST_TWIN, "max_steps": 1, "warmup_steps": 1})
    assert not worse.success
    assert twin.versions() == ["v1", "v2"]
    assert not twin.card("v2")["evaluation"]["promotion"]["passed"]
    assert twin.card("v2")["evaluation"]["production_version"] == "v1"
    assert [c.passed for c in worse.get_asset_check_evaluations() if c.check_name == "beats_baseline"] == [False]
    assert not worse.asset_materializations_for_node("production_model")
    assert twin.get_alias(PRODUCTION) == "v1"

    # Asking production_model directly for the failed candidate is refused too.
    direct = dg.materialize([training.production_model], instance=instance,
                            resources={k: defs.resources[k] for k in ("object_store", "deployment")}, raise_on_error=False,
                            selection=[training.production_model], partition_key=AUTHOR)
    assert not direct.success and twin.get_alias(PRODUCTION) == "v1"

    # Same dataset, base and recipe again: the registered version is reused, nothing trains.
    again = _run_training(defs, instance, FAST_TWIN)
    assert again.asset_materializations_for_node("twin_model")[0].metadata["reused_existing_version"].value is True
    assert twin.versions() == ["v1", "v2"]


def test_automation_trains_once_per_new_dataset_version(setup):
    store, defs, instance = setup
    tick = Ticks(defs, instance)
    assert tick() == set()  # no cleaned documents yet: nothing to build

    # New cleaned documents of the author: one tick asks for their dataset and the missing
    # (shared, unpartitioned) base model, once; they run apart (one partitions set per run).
    instance.report_runless_asset_event(
        dg.AssetMaterialization("cleaned_documents", partition=AUTHOR, tags={"dagster/data_version": "c1"}))
    assert tick() == {"instruction_dataset", "base_model"}
    assert tick() == set()
    job = defs.resolve_implicit_global_asset_job_def()
    config = _ct_run_config(FAST_TWIN)
    assert job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("base_model")],
                                  run_config={"ops": {"base_model": config["ops"]["base_model"]}}).success
    _materialize_dataset(defs, instance)
    # With both there, the author's training chain, once.
    assert tick() == TRAINING
    run = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(name) for name in TRAINING],
        run_config={"ops": {k: v for k, v in config["ops"].items() if k in TRAINING}}, partition_key=AUTHOR)
    assert run.success
    assert tick() == set()  # built by that run: nothing left to do

    # Rebuilt from unchanged documents: same version, nothing trains.
    _materialize_dataset(defs, instance)
    assert tick() == set()

    # One post edited: a new version, a new training chain.
    doc = documents()[0]
    _fill(store, [Document.create(platform=doc.platform, category=doc.category, author=doc.author,
                                  url=doc.url, title=doc.title, content=doc.content + " Edited later.")])
    _materialize_dataset(defs, instance)
    assert tick() == TRAINING
    assert len(DatasetStore(store).versions(INSTRUCTION_DATASET)) == 2


def test_training_assets_hold_the_training_pool():
    from twin_assets.automation import TRAINING_POOL

    assert training.twin_model.op.pool == training.model_evaluation.op.pool == TRAINING_POOL


def _materialize_for_author(assets, resources, **kwargs) -> dg.ExecuteInProcessResult:
    from tests.fixtures.authors import materialize_author

    return materialize_author(assets, resources=resources, author=AUTHOR, **kwargs)


def test_instruction_dataset_without_documents_fails_clearly(tmp_path):
    resources = {
        "object_store": LocalObjectStoreResource(root=str(tmp_path)),
        "instruction_llm": InstructionLLMResource(),
    }
    result = _materialize_for_author([instruction_dataset], resources, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("instruction_dataset")
    assert "materialize cleaned_documents first" in str(failure.error)


def test_llm_generator_needs_an_endpoint(tmp_path):
    store = AuthorStore(LocalFolderStore(tmp_path), AUTHOR)
    _fill(store, [replace(documents()[0])])
    resources = {"object_store": LocalObjectStoreResource(root=str(tmp_path)), "instruction_llm": InstructionLLMResource()}
    result = _materialize_for_author([instruction_dataset], resources, raise_on_error=False,
                                     run_config={"ops": {"instruction_dataset": {"config": {"generator": "llm"}}}})
    assert "instruction_llm endpoint" in str(result.failure_data_for_node("instruction_dataset").error)
