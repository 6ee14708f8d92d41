"""Training assets: ``base_model`` -> ``twin_model`` -> ``model_evaluation`` -> ``production_model``.

Weights live in the model registry (``models/<name>/<version>/`` on the object store); each
asset's Dagster ``DataVersion`` is the registry version it produced. The blocking check
``model_evaluation_beats_baseline`` gates ``production_model``.
"""


from pathlib import Path

import dagster as dg
from pydantic import Field

from twin_assets.datasets.assets import instruction_dataset, md_table, preference_dataset
from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
from twin_resources.deployment import ModelDeploymentResource
from twin_resources.embedder import EmbedderResource
from twin_resources.llm import InstructionLLMResource
from twin_resources.object_store import ObjectStoreResource
from twin_resources.trainer import TrainerLauncherResource

GROUP = "training"
TRAINING_TAGS = {"twin/compute": "training"}


class BaseModelConfig(dg.Config):
    source: str = Field("tiny", description="'tiny' (offline: built from the corpus) or an HF model id / local folder, e.g. meta-llama/Llama-3.1-8B-Instruct.")
    vocab_size: int = Field(2000, description="tiny: BPE vocabulary size.")
    hidden_size: int = Field(64, description="tiny: hidden size.")
    num_hidden_layers: int = Field(2, description="tiny: decoder layers.")


@dg.asset(
    group_name=GROUP,
    kinds={"pytorch", "huggingface"},
    deps=["cleaned_documents"],
    description="The base model the twin is fine-tuned from, registered under models/base/<version>/. Offline default: a tiny Llama with a BPE tokenizer trained on the corpus (exercises the pipeline; does not write well).",
)
def base_model(
    context: dg.AssetExecutionContext, config: BaseModelConfig,
    object_store: ObjectStoreResource, trainer: TrainerLauncherResource,
) -> dg.MaterializeResult:
    from twin_core.models.tiny import TinyModelSpec
    from twin_core.training.pipeline import register_base_model

    store = object_store.open()
    documents = list(DocumentWarehouse(store, CLEANED_PREFIX).documents())
    if config.source == "tiny" and not documents:
        raise dg.Failure("the tiny base model learns its tokenizer from the corpus: materialize cleaned_documents first")
    spec = TinyModelSpec(vocab_size=config.vocab_size, hidden_size=config.hidden_size,
                         intermediate_size=config.hidden_size * 11 // 4, num_hidden_layers=config.num_hidden_layers)
    version, card, created = register_base_model(store, config.source, documents, Path(trainer.work_dir), spec)
    context.log.info(f"base model {version} ({'new' if created else 'unchanged'}) from {config.source}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "version": dg.MetadataValue.text(version),
            "source": dg.MetadataValue.text(config.source),
            "parameters": dg.MetadataValue.int(card.get("parameters") or 0),
            "vocab_size": dg.MetadataValue.int(card.get("vocab_size") or 0),
            "new_version": dg.MetadataValue.bool(created),
            "path": dg.MetadataValue.text(f"models/base/{version}/"),
        },
    )


class TwinModelConfig(dg.Config):
    """The training recipe; every field lands in the model card."""

    method: str = Field("lora", description="LoRA adapter (merged on export) or full fine-tune.")
    lora_r: int = Field(16, description="LoRA rank.")
    lora_alpha: int = Field(32, description="LoRA alpha.")
    lora_dropout: float = Field(0.0, description="LoRA dropout.")
    learning_rate: float = Field(0.0, description="SFT learning rate; 0: automatic (2e-4 for a real base model, 2e-2 for the tiny offline one, whose random weights need large steps).")
    num_train_epochs: float = Field(3.0, description="SFT epochs (ignored when max_steps > 0).")
    max_steps: int = Field(-1, description="SFT steps; -1: by epochs.")
    per_device_train_batch_size: int = Field(8, description="Examples per device per step.")
    gradient_accumulation_steps: int = Field(1, description="Steps accumulated per optimizer update.")
    max_length: int = Field(512, description="Tokens per example (longer ones are truncated).")
    packing: bool = Field(False, description="Pack several examples into one sequence.")
    warmup_steps: int = Field(1, description="LR warmup steps (>= 1 for DeepSpeed's WarmupDecayLR).")
    seed: int = Field(0, description="Training seed.")
    bf16: bool = Field(False, description="bfloat16 training (GPUs).")
    dpo: bool = Field(False, description="Run a DPO stage on preference_dataset after SFT.")
    dpo_beta: float = Field(0.1, description="DPO beta.")
    dpo_learning_rate: float = Field(5e-4, description="DPO learning rate.")
    dpo_max_steps: int = Field(-1, description="DPO steps; -1: one epoch.")

    def hyperparameters(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if k != "dpo"}


@dg.asset(
    group_name=GROUP,
    kinds={"pytorch", "huggingface", "deepspeed"},
    deps=[base_model, instruction_dataset, preference_dataset],
    op_tags=TRAINING_TAGS,
    tags=TRAINING_TAGS,
    description="The twin: TRL SFT (LoRA or full, optional DPO) of the base model on the instruction dataset, launched in-process, under torchrun/deepspeed or as a Kubernetes Job on GPU nodes; registered under models/twin/vN/ with its model card. Same base, data and recipe: the existing version is reused.",
)
def twin_model(
    context: dg.AssetExecutionContext, config: TwinModelConfig,
    object_store: ObjectStoreResource, trainer: TrainerLauncherResource,
) -> dg.MaterializeResult:
    from twin_core.training.pipeline import train_twin

    outcome = train_twin(
        object_store.open(), config.hyperparameters(), Path(trainer.work_dir), launcher=trainer.launcher,
        nproc=trainer.nproc_per_node, deepspeed=trainer.deepspeed or None, dpo=config.dpo,
        log=lambda line: context.log.debug(line),
        job_launcher=trainer.job_launcher(labels={"dagster/run-id": context.run_id}),
    )
    card = outcome.card
    sft = card["training"]["sft"]
    curve = sft["loss_curve"]
    metadata = {
        "version": dg.MetadataValue.text(outcome.version),
        "reused_existing_version": dg.MetadataValue.bool(outcome.reused),
        "dataset_version": dg.MetadataValue.text(card["dataset"]["version"]),
        "base_model_version": dg.MetadataValue.text(card["base_model"]["version"]),
        "first_loss": dg.MetadataValue.float(float(curve[0][1])),
        "final_loss": dg.MetadataValue.float(float(curve[-1][1])),
        "steps": dg.MetadataValue.int(int(sft["steps"])),
        "tokens_per_second": dg.MetadataValue.float(float(sft["tokens_per_second"] or 0.0)),
        "train_runtime_s": dg.MetadataValue.float(float(sft["train_runtime_s"])),
        "loss_curve": dg.MetadataValue.json({"step": [s for s, _ in curve], "loss": [v for _, v in curve]}),
        "loss_table": dg.MetadataValue.md(md_table(["step", "loss"], _sample(curve, 20))),
        "launcher": dg.MetadataValue.json(card["launcher"]),
        "path": dg.MetadataValue.text(f"models/twin/{outcome.version}/"),
    }
    if outcome.job:
        metadata["training_job"] = dg.MetadataValue.text(outcome.job)
    if card["training"].get("dpo"):
        metadata["dpo_final_loss"] = dg.MetadataValue.float(float(card["training"]["dpo"]["final_loss"]))
    return dg.MaterializeResult(data_version=dg.DataVersion(outcome.version), metadata=metadata)


def _sample(curve: list, n: int) -> list:
    step = max(1, len(curve) // n)
    picked = curve[::step]
    return picked if picked[-1] == curve[-1] else [*picked, curve[-1]]


class ModelEvaluationConfig(dg.Config):
    max_examples: int = Field(32, description="Test examples scored (from the twin's own test split).")
    max_new_tokens: int = Field(48, description="Length of generated answers for style similarity and the judge.")
    judge: bool = Field(True, description="Ask the instruction_llm endpoint to judge answers (only when it is configured).")


@dg.asset(
    group_name=GROUP,
    kinds={"pytorch", "python"},
    deps=[twin_model],
    op_tags=TRAINING_TAGS,
    tags=TRAINING_TAGS,
    description="The newest twin vs its base (and the current production version) on its test split: perplexity, style similarity to the author's centroid, optional LLM judge. Results go into the model card.",
)
def model_evaluation(
    context: dg.AssetExecutionContext, config: ModelEvaluationConfig, object_store: ObjectStoreResource,
    trainer: TrainerLauncherResource, embedder: EmbedderResource, instruction_llm: InstructionLLMResource,
) -> dg.MaterializeResult:
    from twin_core.training.evaluation import Judge
    from twin_core.training.pipeline import evaluate_candidate

    judge = None
    if config.judge and instruction_llm.configured:
        judge = Judge(instruction_llm.base_url, instruction_llm.model, instruction_llm.api_key)
    encoder = embedder.load()
    summary = evaluate_candidate(
        object_store.open(), Path(trainer.work_dir), encoder.encode_documents, judge,
        max_examples=config.max_examples, max_new_tokens=config.max_new_tokens,
    )
    results = summary["results"]
    metadata: dict[str, dg.MetadataValue] = {
        "version": dg.MetadataValue.text(summary["version"]),
        "dataset_version": dg.MetadataValue.text(summary["dataset_version"]),
        "promotion_passed": dg.MetadataValue.bool(summary["promotion"]["passed"]),
        "promotion_reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in summary["promotion"]["reasons"])),
    }
    for name, metrics in results.items():
        for key, value in metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                metadata[f"{name}_{key}"] = dg.MetadataValue.float(float(value))
    metadata["samples"] = dg.MetadataValue.md(md_table(
        ["instruction", "twin answer"], [[s["instruction"], s["answer"]] for s in results["twin"]["samples"]]
    ))
    return dg.MaterializeResult(data_version=dg.DataVersion(summary["version"]), metadata=metadata)


@dg.asset_check(
    asset=model_evaluation, blocking=True, name="beats_baseline",
    description="Promotion gate: the twin beats its base on perplexity and does not regress against the current production version. Blocks production_model.",
)
def model_evaluation_beats_baseline(object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    from twin_core.registry import TWIN_MODEL, ModelRegistry
    from twin_core.training.pipeline import CANDIDATE

    card = ModelRegistry(object_store.open(), TWIN_MODEL).card(CANDIDATE)
    promotion = card.get("evaluation", {}).get("promotion", {"passed": False, "reasons": ["not evaluated"]})
    return dg.AssetCheckResult(
        passed=bool(promotion["passed"]),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "version": dg.MetadataValue.text(card["version"]),
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in promotion["reasons"])),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python"},
    deps=[model_evaluation],
    description="Moves the registry alias models/twin/aliases/production to the evaluated twin (the served model), then has the model server pick it up (on Kubernetes: a rolling update of TGI). Runs only after the beats_baseline check passes, and refuses a version whose card records a failed evaluation.",
)
def production_model(
    context: dg.AssetExecutionContext, object_store: ObjectStoreResource, deployment: ModelDeploymentResource,
) -> dg.MaterializeResult:
    from twin_core.registry import TWIN_MODEL, ModelRegistry
    from twin_core.training.pipeline import promote

    store = object_store.open()
    try:
        version, previous = promote(store)
    except (LookupError, ValueError) as error:
        raise dg.Failure(str(error)) from error
    metrics = ModelRegistry(store, TWIN_MODEL).card(version).get("metrics", {})
    context.log.info(f"production: {previous or 'none'} -> {version}")
    # Also when the alias did not move: it re-applies a roll that failed after the alias moved
    # (the same annotation value again changes nothing).
    rollout = deployment.roll(version)
    context.log.info(f"rollout: {rollout['action']}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "version": dg.MetadataValue.text(version),
            "previous_version": dg.MetadataValue.text(previous or "none"),
            "changed": dg.MetadataValue.bool(previous != version),
            "rollout": dg.MetadataValue.json(rollout),
            "perplexity": dg.MetadataValue.float(float(metrics.get("perplexity", float("nan")))),
            "style_similarity": dg.MetadataValue.float(float(metrics.get("style_similarity", float("nan")))),
        },
    )
