"""Dataset assets: ``instruction_dataset`` (from the cleaned documents) and ``preference_dataset``
(DPO pairs: the author's answer against the base model's). Each is versioned by the content hash
of its rows, which is also its Dagster ``DataVersion``."""


from pathlib import Path

import dagster as dg
from pydantic import Field

from twin_assets.authors import AUTHORS, author_store
from twin_assets.automation import on_new_data
from twin_assets.metadata import md_table
from twin_core.datasets.store import INSTRUCTION_DATASET, PREFERENCE_DATASET, DatasetStore
from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
from twin_resources.llm import InstructionLLMResource
from twin_resources.object_store import ObjectStoreResource
from twin_resources.trainer import TrainerLauncherResource

GROUP = "datasets"


class InstructionDatasetConfig(dg.Config):
    generator: str = Field("offline", description="offline: deterministic, from the documents; llm: the configured endpoint writes instructions.")
    pairs_per_extract: int = Field(3, description="llm generator: instructions the model is asked for per extract.")
    max_rows_per_extract: int = Field(2, description="llm generator: at most this many of them become rows, so no extract outweighs another.")
    extract_tokens: int = Field(384, description="llm generator: extract (answer) size in tokens of the base model; keep it under the training max_length minus the prompt.")
    tokenizer: str = Field("", description="llm generator: HF id or folder of the tokenizer that counts extract tokens; empty: the registered base model's.")
    section_chars: int = Field(1200, description="Target size of an article section / extract, in characters.")
    test_fraction: float = Field(0.2, description="Share of documents held out for evaluation.")
    seed: int = Field(0, description="Seed of the split by document.")
    min_answer_chars: int = Field(40, description="Shorter answers are dropped.")
    max_answer_chars: int = Field(4000, description="Longer answers are dropped.")
    near_duplicate_threshold: float = Field(0.8, description="Word 3-gram Jaccard above which an answer from another document is a duplicate.")


@dg.asset(
    group_name=GROUP,
    kinds={"python", "json"},
    deps=["cleaned_documents"],
    partitions_def=AUTHORS,
    automation_condition=on_new_data(),
    description="Instruction -> answer pairs in chat format from the author's cleaned documents; the answer is always the author's text. Split by document, versioned by content hash under datasets/instruction/<author>/<version>/.",
)
def instruction_dataset(
    context: dg.AssetExecutionContext, config: InstructionDatasetConfig,
    object_store: ObjectStoreResource, instruction_llm: InstructionLLMResource,
) -> dg.MaterializeResult:
    from twin_core.datasets.build import build_instruction_dataset
    from twin_core.datasets.filters import FilterSettings
    from twin_core.datasets.generators import InstructionGenerationError, make_generator

    store = author_store(context, object_store)
    documents = list(DocumentWarehouse(store, CLEANED_PREFIX).documents())
    if not documents:
        raise dg.Failure("no cleaned documents yet: materialize cleaned_documents first")
    if config.generator == "llm":
        if not instruction_llm.configured:
            raise dg.Failure("generator 'llm' needs the instruction_llm endpoint (TWIN_INSTRUCTION_LLM_URL)")
        from twin_core.datasets.concurrency import RetryPolicy
        from twin_core.datasets.response_cache import ResponseCache

        generator = make_generator(
            "llm", base_url=instruction_llm.base_url, model=instruction_llm.model,
            api_key=instruction_llm.api_key, pairs_per_extract=config.pairs_per_extract,
            max_rows_per_extract=config.max_rows_per_extract, extract_tokens=config.extract_tokens,
            count_tokens=_token_counter(store, config.tokenizer),
            response_format=instruction_llm.response_format, max_concurrency=instruction_llm.max_concurrency,
            retry=RetryPolicy(attempts=instruction_llm.max_attempts, backoff_s=instruction_llm.backoff_s),
            timeout_s=instruction_llm.timeout_s, cache=ResponseCache(store),
        )
    else:
        generator = make_generator("offline", section_chars=config.section_chars)
    filters = FilterSettings(
        min_answer_chars=config.min_answer_chars, max_answer_chars=config.max_answer_chars,
        near_duplicate_threshold=config.near_duplicate_threshold,
    )
    try:
        built = build_instruction_dataset(documents, generator, filters, config.test_fraction, config.seed)
    except InstructionGenerationError as error:
        raise dg.Failure(str(error)) from error
    llm_report = getattr(generator, "report", None)
    if not built.rows:
        raise dg.Failure(f"every generated example was filtered out ({built.manifest['filters']['removed']})")
    version, created = DatasetStore(store).write(INSTRUCTION_DATASET, built.splits, built.manifest)
    context.log.info(f"instruction dataset {version} ({'new' if created else 'unchanged'}): {len(built.rows)} rows")
    preview = [[r["split"], r["task"], r["messages"][-2]["content"], r["messages"][-1]["content"]] for r in built.rows[:5]]
    removed = built.manifest["filters"]["removed"]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "version": version,
            "new_version": created,
            "rows": len(built.rows),
            "train_rows": len(built.splits["train"]),
            "test_rows": len(built.splits["test"]),
            "documents": len(documents),
            "generated": built.manifest["generated"],
            "removed": dg.MetadataValue.json(removed),
            "generator": generator.name,
            "path": store.key(f"datasets/{INSTRUCTION_DATASET}/{version}/"),
            "preview": dg.MetadataValue.md(md_table(["split", "task", "instruction", "answer"], preview)),
            **(_llm_metadata(llm_report) if llm_report else {}),
        },
    )


def _token_counter(store, tokenizer: str):
    """Counts tokens of ``tokenizer`` (HF id or folder), or of the registered base model's
    tokenizer (its tokenizer files only, not the weights)."""
    import tempfile

    from transformers import AutoTokenizer

    from twin_core.datasets.token_budget import base_tokenizer_folder, token_counter
    from twin_core.registry import BASE_MODEL, LATEST, ModelNotFound, ModelRegistry

    if tokenizer:
        return token_counter(AutoTokenizer.from_pretrained(tokenizer))
    registry = ModelRegistry(store, BASE_MODEL)
    try:
        version = registry.resolve(LATEST)
    except ModelNotFound as error:
        raise dg.Failure(
            "generator 'llm' sizes extracts in the base model's tokens: materialize base_model "
            "first, or set the tokenizer config field"
        ) from error
    with tempfile.TemporaryDirectory() as folder:
        base_tokenizer_folder(store, f"{registry.prefix}/{version}/model", Path(folder))
        return token_counter(AutoTokenizer.from_pretrained(folder))


def _llm_metadata(report) -> dict[str, dg.MetadataValue]:
    return {
        "llm_extracts": report.extracts,
        "llm_cached": report.cached,
        "llm_asked": report.asked,
        "llm_failed": len(report.failed),
        "llm_failures": dg.MetadataValue.md("\n".join(f"- {line}" for line in report.failed) or "none"),
        "llm_response_format": report.response_format,
    }


def _schema_check(context: dg.AssetCheckExecutionContext, name: str, schema_name: str,
                  object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    from twin_core.datasets import schema

    datasets = DatasetStore(author_store(context, object_store))
    version = datasets.resolve(name)
    rows = datasets.read(name, "train", version) + datasets.read(name, "test", version)
    problems = schema.validate(getattr(schema, schema_name), rows)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "version": version,
            "rows": len(rows),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
        },
    )


@dg.asset_check(
    asset=instruction_dataset, blocking=True,
    description="pandera: chat messages with a final assistant answer, unique ids, valid splits, no document in both splits.",
)
def instruction_dataset_schema(context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    return _schema_check(context, INSTRUCTION_DATASET, "INSTRUCTION_SCHEMA", object_store)


class PreferenceDatasetConfig(dg.Config):
    max_pairs_per_split: int = Field(64, description="Instructions per split the base model answers (generation is the slow part).")
    max_new_tokens: int = Field(96, description="Length of the base model's (rejected) answers, in tokens; the author's (chosen) answers are cut to the same length so that length is no shortcut.")
    temperature: float = Field(0.8, description="Sampling temperature of the base model's answers (seeded: same model, same answers); 0: greedy.")


@dg.asset(
    group_name=GROUP,
    kinds={"python", "pytorch", "json"},
    deps=[instruction_dataset, "base_model"],
    partitions_def=AUTHORS,
    automation_condition=on_new_data(),
    description="DPO triples: prompt, chosen = the author's real answer, rejected = the base model's answer to the same instruction. Versioned like the instruction dataset.",
)
def preference_dataset(
    context: dg.AssetExecutionContext, config: PreferenceDatasetConfig,
    object_store: ObjectStoreResource, trainer: TrainerLauncherResource,
) -> dg.MaterializeResult:
    from twin_core.datasets.preference_pairs import build_preference_pairs

    store = author_store(context, object_store)
    settings = dict(max_pairs_per_split=config.max_pairs_per_split, max_new_tokens=config.max_new_tokens,
                    temperature=config.temperature)
    job_launcher = trainer.job_launcher(labels={"dagster/run-id": context.run_id})
    if job_launcher is not None:
        # The base model writes the rejected answers: GPU work, where the twin trains.
        from twin_core.training.pipeline import build_pairs_remotely

        build = build_pairs_remotely(store, job_launcher, log=lambda line: context.log.debug(line), **settings)
    else:
        build = build_preference_pairs(store, Path(trainer.work_dir), **settings)
    datasets = DatasetStore(store)
    version, created = build.version, build.created
    splits = {s: datasets.read(PREFERENCE_DATASET, s, version) for s in ("train", "test")}
    rows = splits["train"] + splits["test"]
    manifest = datasets.manifest(PREFERENCE_DATASET, version)
    preview = [[r["prompt"][-1]["content"], r["chosen"][0]["content"], r["rejected"][0]["content"]] for r in rows[:5]]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "version": version,
            "new_version": created,
            "pairs": len(rows),
            "train_pairs": len(splits["train"]),
            "test_pairs": len(splits["test"]),
            "dropped_pairs": manifest["dropped_pairs"],
            "source_dataset_version": build.source_version,
            "base_model_version": build.base_version,
            "preview": dg.MetadataValue.md(md_table(["prompt", "chosen", "rejected"], preview, width=60)),
        },
    )


@dg.asset_check(
    asset=preference_dataset, blocking=True,
    description="pandera: prompt/chosen/rejected chat turns, chosen differs from rejected, no document in both splits.",
)
def preference_dataset_schema(context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    return _schema_check(context, PREFERENCE_DATASET, "PREFERENCE_SCHEMA", object_store)
