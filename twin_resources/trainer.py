"""Where and how fine-tuning runs: in the run's own process, or N processes under torchrun or
deepspeed (one per GPU, or per CPU slot with gloo)."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field


class TrainerLauncherResource(ConfigurableResource):
    launcher: str = Field(
        "in_process",
        description="in_process: train inside the Dagster step; python: one subprocess; torchrun/deepspeed: nproc_per_node processes.",
    )
    nproc_per_node: int = Field(1, description="Processes (GPUs) per node for torchrun/deepspeed.")
    deepspeed: str = Field(
        "", description="DeepSpeed config: zero2, zero3, zero3_offload or a JSON path; empty: none."
    )
    work_dir: str = Field(description="Scratch folder for datasets, checkpoints and the model cache.")
