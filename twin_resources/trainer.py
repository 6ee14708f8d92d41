"""Where and how fine-tuning runs: in the run's own process, N processes under torchrun or
deepspeed (one per GPU, or per CPU slot with gloo), or a Kubernetes Job on GPU nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    from twin_core.training.kubernetes import KubernetesJobLauncher

LAUNCHERS = ("in_process", "python", "torchrun", "deepspeed", "kubernetes")


class TrainerLauncherResource(ConfigurableResource):
    launcher: str = Field(
        "in_process",
        description="in_process: train inside the Dagster step; python: one subprocess; torchrun/deepspeed: nproc_per_node processes; kubernetes: a Job on GPU nodes from the cluster's template (its GPU count comes from the template).",
    )
    nproc_per_node: int = Field(1, description="Processes (GPUs) per node for torchrun/deepspeed.")
    deepspeed: str = Field(
        "", description="DeepSpeed config: zero2, zero3, zero3_offload or a JSON path; empty: none."
    )
    work_dir: str = Field(description="Scratch folder for datasets, checkpoints and the model cache.")
    base_model: str = Field(
        "smollm2", description="base_model's source when its run config names none (TWIN_BASE_MODEL): smollm2, an HF id or folder, or tiny.",
    )
    recipe_file: str = Field(
        "", description="twin_model settings file (TWIN_TRAINING_RECIPE, YAML or JSON) under the run config: what automation-started runs train with.",
    )
    namespace: str = Field(
        "", description="kubernetes: namespace of training Jobs and of the training-job template ConfigMap (TWIN_TRAINING_NAMESPACE)."
    )
    job_template: str = Field("training-job", description="kubernetes: ConfigMap holding job.yaml, the Job manifest.")
    job_timeout_s: int = Field(
        14 * 3600,
        description="kubernetes: a Job still running after this long is deleted and the step fails (the template's own activeDeadlineSeconds is 12 h; the rest covers a GPU node scaling up).",
    )
    poll_interval_s: float = Field(15.0, description="kubernetes: seconds between Job status reads.")
    kube_api_url: str = Field(
        "", description="kubernetes: API URL without credentials (e.g. http://127.0.0.1:8001 behind kubectl proxy); empty: the pod's service account, else ~/.kube/config."
    )

    def job_launcher(self, labels: dict[str, str] | None = None) -> KubernetesJobLauncher | None:
        """The Job launcher when ``launcher`` is ``kubernetes``, else ``None``."""
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"unknown trainer launcher {self.launcher!r}; expected one of {', '.join(LAUNCHERS)}")
        if self.launcher != "kubernetes":
            return None
        from twin_core.training.kubernetes import KubernetesJobLauncher

        return KubernetesJobLauncher(
            namespace=self.namespace, config_map=self.job_template, timeout_s=self.job_timeout_s,
            poll_interval_s=self.poll_interval_s, api_url=self.kube_api_url, labels=labels or {},
        )
