"""The code location loads, holds what we expect, and stays light."""

import subprocess
import sys

EXPECTED_ASSETS: set[str] = {
    "linkedin_posts", "medium_articles", "substack_posts", "github_repositories", "custom_articles",
    "raw_documents",
    "cleaned_documents", "chunks", "chunk_embeddings",
    "instruction_dataset", "preference_dataset",
    "base_model", "twin_model", "model_evaluation", "production_model",
}
EXPECTED_JOBS: set[str] = {"collection_job", "features_job", "dataset_job", "continuous_training_job"}
EXPECTED_SCHEDULES: set[str] = {"collection_schedule"}
EXPECTED_SENSORS: set[str] = {"author_partitions", "twin_automation"}


def test_definitions_hold_expected_objects():
    from twin_assets.definitions import defs

    repo = defs().get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    assert {job.name for job in repo.get_all_jobs() if not job.name.startswith("__")} == EXPECTED_JOBS
    assert {s.name for s in repo.schedule_defs} == EXPECTED_SCHEDULES
    assert {s.name for s in repo.sensor_defs} == EXPECTED_SENSORS


def test_loading_definitions_imports_no_heavy_library():
    code = (
        "import sys, twin_assets.definitions;"
        "print(','.join(m for m in ('torch','transformers','trl','deepspeed','FlagEmbedding','onnx','onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_workspace_validates():
    dagster = [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"]
    result = subprocess.run(dagster, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
