"""Dataset assets: ``instruction_dataset`` (from the cleaned documents) and ``preference_dataset``
(DPO pairs: the author's answer against the base model's). Each is versioned by the content hash
of its rows, which is also its Dagster ``DataVersion``."""


from pathlib import Path

import dagster as dg
from pydantic import Field

from twin_core.datasets.store import INSTRUCTION_DATASET, PREFERENCE_DATASET, DatasetStore
from twin_core.warehouse import CLEANED_PREFIX, DocumentWarehouse
from twin_resources.llm import InstructionLLMResource
from twin_resources.object_store import ObjectStoreResource
from twin_resources.trainer import TrainerLauncherResource

GROUP = "datasets"


def md_table(header: list[str], rows: list[list[object]], width: int = 80) -> str:
    def cell(value: object) -> str:
        text = " ".join(str(value).split()).replace("|", "\\|")
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


class InstructionDatasetConfig(dg.Config):
    generator: str = Field("offline", description="offline: deterministic, from the documents; llm: the configured endpoint writes instructions.")
    pairs_per_extract: int = Field(5, description="llm generator: instructions per extract.")
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
    description="Instruction -> answer pairs in chat format from the cleaned documents; the answer is always the author's text. Split by document, versioned by content hash under datasets/instruction/<version>/.",
)
def instruction_dataset(
    context: dg.AssetExecutionContext, config: InstructionDatasetConfig,
    object_store: ObjectStoreResource, instruction_llm: InstructionLLMResource,
) -> dg.MaterializeResult:
    from twin_core.datasets.build import build_instruction_dataset
    from twin_core.datasets.filters import FilterSettings
    from twin_core.datasets.generators import make_generator

    store = object_store.open()
    documents = list(DocumentWarehouse(store, CLEANED_PREFIX).documents())
    if not documents:
        raise dg.Failure("no cleaned documents yet: materialize cleaned_documents first")
    if config.generator == "llm":
        if not instruction_llm.configured:
            raise dg.Failure("generator 'llm' needs the instruction_llm endpoint (TWIN_INSTRUCTION_LLM_URL)")
        generator = make_generator(
            "llm", base_url=instruction_llm.base_url, model=instruction_llm.model,
            api_key=instruction_llm.api_key, pairs_per_extract=config.pairs_per_extract,
            extract_chars=config.section_chars,
        )
    else:
        generator = make_generator("offline", section_chars=config.section_chars)
    filters = FilterSettings(
        min_answer_chars=config.min_answer_chars, max_answer_chars=config.max_answer_chars,
        near_duplicate_threshold=config.near_duplicate_threshold,
    )
    built = build_instruction_dataset(documents, generator, filters, config.test_fraction, config.seed)
    if not built.rows:
        raise dg.Failure(f"every generated example was filtered out ({built.manifest['filters']['removed']})")
    version, created = DatasetStore(store).write(INSTRUCTION_DATASET, built.splits, built.manifest)
    context.log.info(f"instruction dataset {version} ({'new' if created else 'unchanged'}): {len(built.rows)} rows")
    preview = [[r["split"], r["task"], r["messages"][-2]["content"], r["messages"][-1]["content"]] for r in built.rows[:5]]
    removed = built.manifest["filters"]["removed"]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "version": dg.MetadataValue.text(version),
            "new_version": dg.MetadataValue.bool(created),
            "rows": dg.MetadataValue.int(len(built.rows)),
            "train_rows": dg.MetadataValue.int(len(built.splits["train"])),
            "test_rows": dg.MetadataValue.int(len(built.splits["test"])),
            "documents": dg.MetadataValue.int(len(documents)),
            "generated": dg.MetadataValue.int(built.manifest["generated"]),
            "removed": dg.MetadataValue.json(removed),
            "generator": dg.MetadataValue.text(generator.name),
            "path": dg.MetadataValue.text(f"datasets/{INSTRUCTION_DATASET}/{version}/"),
            "preview": dg.MetadataValue.md(md_table(["split", "task", "instruction", "answer"], preview)),
        },
    )


def _schema_check(name: str, schema_name: str, object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    from twin_core.datasets import schema

    datasets = DatasetStore(object_store.open())
    version = datasets.resolve(name)
    rows = datasets.read(name, "train", version) + datasets.read(name, "test", version)
    problems = schema.validate(getattr(schema, schema_name), rows)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "version": dg.MetadataValue.text(version),
            "rows": dg.MetadataValue.int(len(rows)),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
        },
    )


@dg.asset_check(
    asset=instruction_dataset, blocking=True,
    description="pandera: chat messages with a final assistant answer, unique ids, valid splits, no document in both splits.",
)
def instruction_dataset_schema(object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    return _schema_check(INSTRUCTION_DATASET, "INSTRUCTION_SCHEMA", object_store)


class PreferenceDatasetConfig(dg.Config):
    max_pairs_per_split: int = Field(64, description="Instructions per split the base model answers (generation is the slow part).")
    max_new_tokens: int = Field(64, description="Length of the base model's (rejected) answers.")
    temperature: float = Field(0.8, description="Sampling temperature of the base model's answers (seeded: same model, same answers); 0: greedy.")


@dg.asset(
    group_name=GROUP,
    kinds={"python", "pytorch", "json"},
    deps=[instruction_dataset, "base_model"],
    description="DPO triples: prompt, chosen = the author's real answer, rejected = the base model's answer to the same instruction. Versioned like the instruction dataset.",
)
def preference_dataset(
    context: dg.AssetExecutionContext, config: PreferenceDatasetConfig,
    object_store: ObjectStoreResource, trainer: TrainerLauncherResource,
) -> dg.MaterializeResult:
    from twin_core.datasets.build import build_preference_dataset
    from twin_core.models.generate import generate_answers, load_model
    from twin_core.registry import BASE_MODEL, LATEST, ModelRegistry

    store = object_store.open()
    datasets = DatasetStore(store)
    source_version = datasets.resolve(INSTRUCTION_DATASET)
    splits = {s: datasets.read(INSTRUCTION_DATASET, s, source_version) for s in ("train", "test")}
    base = ModelRegistry(store, BASE_MODEL)
    base_version = base.resolve(LATEST)
    model, tokenizer = load_model(base.materialize_version(base_version, Path(trainer.work_dir) / "cache"))
    built = build_preference_dataset(
        splits,
        lambda prompts: generate_answers(
            model, tokenizer, prompts, config.max_new_tokens, min_new_tokens=8, temperature=config.temperature,
        ),
        config.max_pairs_per_split,
    )
    manifest = {
        **built.manifest,
        "source_dataset": {"name": INSTRUCTION_DATASET, "version": source_version},
        "rejected_by": {"name": BASE_MODEL, "version": base_version},
        "max_new_tokens": config.max_new_tokens,
    }
    version, created = datasets.write(PREFERENCE_DATASET, built.splits, manifest)
    preview = [[r["prompt"][-1]["content"], r["chosen"][0]["content"], r["rejected"][0]["content"]] for r in built.rows[:5]]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "version": dg.MetadataValue.text(version),
            "new_version": dg.MetadataValue.bool(created),
            "pairs": dg.MetadataValue.int(len(built.rows)),
            "train_pairs": dg.MetadataValue.int(len(built.splits["train"])),
            "test_pairs": dg.MetadataValue.int(len(built.splits["test"])),
            "dropped_pairs": dg.MetadataValue.int(built.manifest["dropped_pairs"]),
            "source_dataset_version": dg.MetadataValue.text(source_version),
            "base_model_version": dg.MetadataValue.text(base_version),
            "preview": dg.MetadataValue.md(md_table(["prompt", "chosen", "rejected"], preview, width=60)),
        },
    )


@dg.asset_check(
    asset=preference_dataset, blocking=True,
    description="pandera: prompt/chosen/rejected chat turns, chosen differs from rejected, no document in both splits.",
)
def preference_dataset_schema(object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    return _schema_check(PREFERENCE_DATASET, "PREFERENCE_SCHEMA", object_store)
