"""The local run launcher: Dagster's default one, plus a health check of each run's process.

Dagster's run monitoring marks a run failed when its launcher reports the run worker dead, but
the default launcher cannot tell, so a run killed with ``kill -9`` (or by the OOM killer) stayed
STARTED forever and kept its tag concurrency slot: every later embedding or training run
queued behind it. Each run worker logs ``Started process for run (pid: N)``; this launcher
answers "dead" when that process is gone (or the PID now belongs to a younger process), and the
monitoring daemon (``run_monitoring`` in ``dagster.yaml``) then fails the run and frees its slot.
Locally the daemon and the run workers share one machine, which is what makes the PID meaningful;
production uses the Kubernetes launcher, which checks its Jobs itself.
"""

from __future__ import annotations

import psutil
from dagster import DagsterEventType, DagsterRun
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus


class LocalRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        started = run_worker_process(self._instance, run.run_id)
        if started is None:
            return CheckRunHealthResult(
                WorkerStatus.UNKNOWN, "the run worker has not logged its PID yet"
            )
        pid, logged_at = started
        try:
            process = psutil.Process(pid)
            alive = (
                process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= logged_at + 1
            )
        except psutil.Error:
            alive = False
        if alive:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"the run worker process {pid} is gone (killed or crashed)"
        )


def run_worker_process(instance, run_id: str) -> tuple[int, float] | None:
    """(PID, time it was logged) of the run's latest run worker, from its engine events."""
    events = instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    for entry in reversed(events):
        event = entry.dagster_event
        data = event.event_specific_data if event else None
        metadata = getattr(data, "metadata", None) or {}
        if entry.message.startswith("Started process for run") and "pid" in metadata:
            value = getattr(metadata["pid"], "value", metadata["pid"])
            try:
                return int(value), entry.timestamp
            except (TypeError, ValueError):
                return None
    return None
