"""Run a training run as a Kubernetes Job on GPU nodes and follow it to the end.

The Job manifest is not built here: ``infra/terraform/modules/training`` renders it (image, GPU
count, node selector, tolerations, volumes, service account) into the ``training-job`` ConfigMap
(key ``job.yaml``) of ``TWIN_TRAINING_NAMESPACE``. The launcher reads it, appends
``["--config", <the run as inline JSON>]`` to the ``train`` container's args (its command is
``torchrun --nproc-per-node <gpus> -m twin_core.training``), creates the Job and polls its
status. A failed Job raises ``TrainingFailed`` with the end of its pod's log; a Job still running
after ``timeout_s`` is deleted (its GPUs would otherwise keep billing) and raises
``TrainingTimeout``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from twin_core.kube import REQUEST_TIMEOUT_S, KubernetesError, api_client, describe_api_error
from twin_core.training.launch import TrainingFailed

JOB_TEMPLATE_CONFIG_MAP = "training-job"
JOB_TEMPLATE_KEY = "job.yaml"
TRAIN_CONTAINER = "train"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LABEL_VALUE_MAX = 63

JobState = Literal["running", "succeeded", "failed"]


class TrainingTimeout(TrainingFailed):
    """The Job did not finish in time; it has been deleted."""


def build_job(
    template: dict[str, Any], config_arg: str, *, namespace: str,
    labels: dict[str, str] | None = None, container: str = TRAIN_CONTAINER,
) -> dict[str, Any]:
    """The Job to submit: the template with ``--config <config_arg>`` appended to the args of
    ``container``, placed in ``namespace`` and carrying ``labels`` (Job and pod)."""
    if template.get("kind") != "Job" or not str(template.get("apiVersion", "")).startswith("batch/"):
        raise ValueError(f"the job template is a {template.get('apiVersion')}/{template.get('kind')}, not a batch Job")
    for key, value in (labels or {}).items():
        if len(value) > LABEL_VALUE_MAX:
            raise ValueError(f"label {key}={value!r} is longer than {LABEL_VALUE_MAX} characters")
    job = copy.deepcopy(template)
    metadata = job.setdefault("metadata", {})
    metadata["namespace"] = namespace
    if not metadata.get("name") and not metadata.get("generateName"):
        metadata["generateName"] = "twin-training-"
    metadata["labels"] = {**(metadata.get("labels") or {}), **(labels or {})}
    pod = job.get("spec", {}).get("template", {})
    pod_metadata = pod.setdefault("metadata", {})
    pod_metadata["labels"] = {**(pod_metadata.get("labels") or {}), **(labels or {})}
    containers = pod.get("spec", {}).get("containers") or []
    target = next((c for c in containers if c.get("name") == container), None)
    if target is None:
        names = ", ".join(str(c.get("name")) for c in containers) or "none"
        raise ValueError(f"the job template has no container {container!r} (containers: {names})")
    args = list(target.get("args") or [])
    if "--config" in args or "--config" in (target.get("command") or []):
        raise ValueError("the job template already passes --config; the launcher adds the run's own")
    target["args"] = [*args, "--config", config_arg]
    return job


def job_state(job: dict[str, Any]) -> tuple[JobState, str]:
    """``(state, reason)`` from a Job's ``status`` (API field names, camelCase)."""
    conditions = (job.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("status") != "True":
            continue
        kind = condition.get("type")
        detail = ": ".join(p for p in (condition.get("reason"), condition.get("message")) if p)
        if kind in ("Failed", "FailureTarget"):
            return "failed", detail or kind
        if kind == "Complete":
            return "succeeded", detail or kind
    return "running", ""


def pod_summary(pod: dict[str, Any]) -> str:
    """``pod-x: Pending (Unschedulable: 0/3 nodes are available ...)`` for error messages."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status = pod.get("status") or {}
    details = [
        ": ".join(p for p in (c.get("reason"), c.get("message")) if p)
        for c in status.get("conditions") or [] if c.get("status") == "False" and c.get("reason")
    ]
    for container in status.get("containerStatuses") or []:
        for phase in ("waiting", "terminated"):
            state = (container.get("state") or {}).get(phase)
            if state and state.get("reason"):
                code = f" exit {state['exitCode']}" if "exitCode" in state else ""
                details.append(f"{container.get('name')} {phase}: {state['reason']}{code}")
    return f"{name}: {status.get('phase', 'Unknown')}" + (f" ({'; '.join(details)})" if details else "")


@dataclass
class KubernetesJobLauncher:
    """Submits a training run as a Job from the cluster's template and waits for it."""

    namespace: str
    config_map: str = JOB_TEMPLATE_CONFIG_MAP
    container: str = TRAIN_CONTAINER
    timeout_s: float = 14 * 3600
    poll_interval_s: float = 15.0
    log_tail_lines: int = 60
    max_api_errors: int = 5
    api_url: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if not self.namespace:
            raise ValueError("the kubernetes launcher needs a namespace (TWIN_TRAINING_NAMESPACE)")
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = api_client(self.api_url)
        return self._api

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, _request_timeout=REQUEST_TIMEOUT_S, **kwargs)
        except ApiException as error:
            raise KubernetesError(f"{what}: {describe_api_error(error)}") from error

    def _plain(self, obj: Any) -> dict[str, Any]:
        return self.api.sanitize_for_serialization(obj)

    # -- steps ----------------------------------------------------------------------------------
    def template(self) -> dict[str, Any]:
        from kubernetes import client

        where = f"ConfigMap {self.namespace}/{self.config_map}"
        config_map = self._call(
            f"cannot read the training job template ({where}; is the training module applied "
            f"and TWIN_TRAINING_NAMESPACE right?)",
            client.CoreV1Api(self.api).read_namespaced_config_map, self.config_map, self.namespace,
        )
        text = (config_map.data or {}).get(JOB_TEMPLATE_KEY)
        if not text:
            raise KubernetesError(f"{where} has no {JOB_TEMPLATE_KEY}")
        template = yaml.safe_load(text)
        if not isinstance(template, dict):
            raise KubernetesError(f"{where} {JOB_TEMPLATE_KEY} is not a manifest")
        return template

    def submit(self, config_arg: str) -> str:
        """Create the Job; returns its name (the API picks it from ``generateName``)."""
        from kubernetes import client

        job = build_job(self.template(), config_arg, namespace=self.namespace,
                        labels=self.labels, container=self.container)
        created = self._call(
            f"cannot create a training job in {self.namespace}",
            client.BatchV1Api(self.api).create_namespaced_job, self.namespace, job,
        )
        return created.metadata.name

    def status(self, name: str) -> tuple[JobState, str]:
        from kubernetes import client

        job = self._call(f"cannot read training job {self.namespace}/{name}",
                         client.BatchV1Api(self.api).read_namespaced_job_status, name, self.namespace)
        return job_state(self._plain(job))

    def pods(self, name: str) -> list[dict[str, Any]]:
        from kubernetes import client

        listed = self._call(f"cannot list the pods of training job {self.namespace}/{name}",
                            client.CoreV1Api(self.api).list_namespaced_pod, self.namespace,
                            label_selector=f"{JOB_NAME_LABEL}={name}")
        pods = [self._plain(p) for p in listed.items]
        return sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")

    def log_tail(self, name: str) -> str:
        """Pod states and the last lines of the newest pod's log; never raises (it decorates
        an error that matters more)."""
        from kubernetes import client

        try:
            pods = self.pods(name)
            if not pods:
                return "(no pod was created)"
            lines = [pod_summary(p) for p in pods]
            newest = pods[-1]["metadata"]["name"]
            # Raw bytes: this client version renders a deserialized log as "b'...'".
            response = self._call(
                f"cannot read the log of {self.namespace}/{newest}",
                client.CoreV1Api(self.api).read_namespaced_pod_log, newest, self.namespace,
                container=self.container, tail_lines=self.log_tail_lines, _preload_content=False,
            )
            log = response.data.decode("utf-8", errors="replace")
            lines.append(f"--- last {self.log_tail_lines} lines of {newest} ---")
            lines.append(log.rstrip() or "(empty log)")
            return "\n".join(lines)
        except (KubernetesError, KeyError, TypeError) as error:
            return f"(no log: {error})"

    def delete(self, name: str) -> None:
        from kubernetes import client

        self._call(f"cannot delete training job {self.namespace}/{name}",
                   client.BatchV1Api(self.api).delete_namespaced_job, name, self.namespace,
                   propagation_policy="Background")

    # -- the whole run --------------------------------------------------------------------------
    def run(self, config_arg: str, log: Callable[[str], None] | None = None) -> str:
        """Submit, wait until the Job ends; returns ``<namespace>/<job name>``. Raises ``TrainingFailed``
        (with the log tail) when it fails, ``TrainingTimeout`` when it outlives ``timeout_s``."""
        try:
            return self._run(config_arg, log or (lambda line: None))
        finally:
            if self._api is not None:
                self._api.close()
                self._api = None

    def _run(self, config_arg: str, say: Callable[[str], None]) -> str:
        name = self.submit(config_arg)
        qualified = f"{self.namespace}/{name}"
        say(f"training job {qualified} created")
        deadline = self.clock() + self.timeout_s
        api_errors = 0
        try:
            while True:
                try:
                    state, reason = self.status(name)
                    api_errors = 0
                except KubernetesError as error:
                    # An API server restart must not abandon a 12-hour job; a lasting fault
                    # still surfaces (the Job goes on, and a re-run reuses what it registers).
                    api_errors += 1
                    if api_errors >= self.max_api_errors:
                        raise
                    say(f"{error} (retrying)")
                    state, reason = "running", ""
                if state == "succeeded":
                    say(f"training job {qualified} succeeded")
                    for line in self.log_tail(name).splitlines():
                        say(line)
                    return qualified
                if state == "failed":
                    raise TrainingFailed(
                        f"training job {qualified} failed: {reason}\n{self.log_tail(name)}"
                    )
                if self.clock() >= deadline:
                    tail = self.log_tail(name)
                    self.delete(name)
                    raise TrainingTimeout(
                        f"training job {qualified} did not finish within {self.timeout_s:g} s; "
                        f"deleted it.\n{tail}"
                    )
                self.sleep(self.poll_interval_s)
        except (TrainingFailed, KubernetesError):
            raise
        except BaseException:
            # The Dagster run was stopped: stop paying for the GPUs too.
            try:
                self.delete(name)
            except KubernetesError as error:
                say(f"{error}: delete it by hand")
            raise
