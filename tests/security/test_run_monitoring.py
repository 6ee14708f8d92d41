"""A run whose worker is killed with ``kill -9`` is marked failed by run monitoring, and its
embedding concurrency slot is free again: the project's own dagster.yaml, a real run worker
(``dagster api execute_run``, what the launcher starts), a real SIGKILL."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, DagsterRunStatus, RunsFilter
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import serialize_value

from tests.security.sleepy_job import sleepy_embedding_job
from twin_resources.run_launcher import LocalRunLauncher, run_worker_process

REPO = Path(__file__).resolve().parents[2]


class _DaemonContext:
    """What the monitoring daemon hands its iteration: the instance (no code location needed
    to fail a run)."""

    def __init__(self, instance):
        self.instance = instance

    def create_request_context(self):
        return None


def _wait_for(condition, timeout_s: float = 90.0, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout_s}s for {what}")


def _embedding_runs_in_progress(instance) -> int:
    return len(
        instance.get_run_records(
            RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES, tags={"twin/compute": "embedding"})
        )
    )


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def test_killed_run_is_marked_failed_and_frees_its_slot(instance, tmp_path):
    assert isinstance(instance.run_launcher, LocalRunLauncher)
    assert instance.run_monitoring_enabled
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "twin/compute", "value": "embedding", "limit": 1} in limits

    origin = dg.reconstructable(sleepy_embedding_job).get_python_origin()
    run = instance.create_run_for_job(
        job_def=sleepy_embedding_job, job_code_origin=origin, tags=sleepy_embedding_job.tags
    )
    args = ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=instance.get_ref())
    worker = subprocess.Popen(
        [sys.executable, "-m", "dagster", "api", "execute_run", serialize_value(args)],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(instance.root_directory)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(
            lambda: (
                instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED
                and run_worker_process(instance, run.run_id)
            ),
            what="the run to start",
        )
        assert run_worker_process(instance, run.run_id)[0] == worker.pid
        assert _embedding_runs_in_progress(instance) == 1  # the slot is taken

        # A healthy worker is left alone by a monitoring pass.
        list(execute_run_monitoring_iteration(_DaemonContext(instance), logging.getLogger("test")))
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED

        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED  # the defect

        list(execute_run_monitoring_iteration(_DaemonContext(instance), logging.getLogger("test")))
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    failed = instance.get_run_by_id(run.run_id)
    assert failed.status == DagsterRunStatus.FAILURE
    assert _embedding_runs_in_progress(instance) == 0  # the next features_job run can start
    messages = [e.message for e in instance.all_logs(run.run_id)]
    assert any(f"run worker process {worker.pid} is gone" in m for m in messages)


@pytest.mark.parametrize("config", ["dagster.yaml", "infra/dagster/dagster.prod.yaml"])
def test_run_monitoring_has_timeouts_in_both_instances(config):
    monitoring = yaml.safe_load((REPO / config).read_text())["run_monitoring"]
    assert monitoring["enabled"] is True
    assert monitoring["start_timeout_seconds"] > 0 and monitoring["cancel_timeout_seconds"] > 0
    # Resuming needs a launcher that can resume (Kubernetes); the local one fails dead runs.
    assert monitoring["max_resume_run_attempts"] == (1 if "prod" in config else 0)
