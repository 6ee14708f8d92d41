"""infra/dagster/dagster.prod.yaml loads as a Dagster instance config and each pluggable class
accepts its section (dagster-postgres, dagster-k8s and dagster-aws are installed for this)."""

from __future__ import annotations

import shutil

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes import class_from_code_pointer

from tests.infra.conftest import INFRA

PROD_CONFIG = INFRA / "dagster" / "dagster.prod.yaml"
ENV = {
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-secret",
    "DAGSTER_K8S_JOB_NAMESPACE": "dagster",
    "TWIN_S3_BUCKET": "bucket",
}


@pytest.fixture()
def instance_config(tmp_path, monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    shutil.copy(PROD_CONFIG, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    return config


def test_run_queue_and_pools_validate(instance_config):
    """The run queue lives under ``concurrency`` (Dagster validates it with the instance)."""
    assert instance_config["concurrency"]["runs"]["max_concurrent_runs"] >= 1


@pytest.mark.parametrize(
    ("section", "expected_class"),
    [
        ("run_launcher", "K8sRunLauncher"),
        ("compute_logs", "S3ComputeLogManager"),
    ],
)
def test_pluggable_sections_validate(instance_config, section, expected_class):
    entry = instance_config[section]
    cls = class_from_code_pointer(entry["module"], entry["class"])
    assert cls.__name__ == expected_class
    result = process_config(cls.config_type(), entry["config"])
    assert result.success, [error.message for error in result.errors or []]


def test_postgres_storage_validates(instance_config):
    from dagster_postgres import DagsterPostgresStorage

    result = process_config(
        DagsterPostgresStorage.config_type(), instance_config["storage"]["postgres"]
    )
    assert result.success, [error.message for error in result.errors or []]
    assert result.value["postgres_db"]["hostname"] == "db.internal"


def test_missing_secret_env_var_is_an_error(tmp_path, monkeypatch):
    """Endpoints and secrets are read from the environment, not written into the file."""
    from dagster_postgres import DagsterPostgresStorage

    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    shutil.copy(PROD_CONFIG, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    result = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert not result.success


def test_gpu_training_runs_are_limited_and_secrets_are_env_vars():
    raw = yaml.safe_load(PROD_CONFIG.read_text())
    limits = raw["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "twin/compute", "value": "training", "limit": 1} in limits
    assert raw["concurrency"]["pools"]["default_limit"] == 1  # one training / embedding step
    assert raw["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    launcher = raw["run_launcher"]["config"]
    assert (
        "twin-secrets" in launcher["env_secrets"] and "twin-config" in launcher["env_config_maps"]
    )
