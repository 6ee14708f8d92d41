"""The two resource sets. Assets see resource keys only, never the environment.

``local``: every system has an embedded stand-in and no variable is required.
``prod``: every endpoint and secret comes from an ``EnvVar``.
"""

from __future__ import annotations

from typing import Any

from dagster import EnvVar
from dagster_aws.s3 import S3Resource

from twin_core.embedding import embedder_options
from twin_core.settings import Settings
from twin_resources.deployment import (
    KubernetesModelDeploymentResource,
    LocalModelDeploymentResource,
)
from twin_resources.embedder import EmbedderResource
from twin_resources.http import CrawlerHttpResource
from twin_resources.llm import InstructionLLMResource
from twin_resources.milvus import MilvusResource
from twin_resources.object_store import LocalObjectStoreResource, S3ObjectStoreResource
from twin_resources.profiles import ProfilesResource
from twin_resources.trainer import TrainerLauncherResource


def local_resources(settings: Settings) -> dict[str, Any]:
    return {
        "object_store": LocalObjectStoreResource(root=str(settings.store_root)),
        "profiles": ProfilesResource(path=str(settings.profiles.resolve())),
        "http": CrawlerHttpResource(),
        "milvus": MilvusResource(uri=settings.milvus_uri, token=settings.milvus_token.get_secret_value()),
        "embedder": EmbedderResource(**embedder_options(settings)),
        "trainer": TrainerLauncherResource(
            work_dir=str(settings.home.resolve() / "training"),
            base_model=settings.base_model, recipe_file=settings.training_recipe,
        ),
        "instruction_llm": InstructionLLMResource(),
        "deployment": LocalModelDeploymentResource(),
    }


def prod_resources(settings: Settings) -> dict[str, Any]:
    return {
        "object_store": S3ObjectStoreResource(
            s3=S3Resource(endpoint_url=EnvVar("TWIN_S3_ENDPOINT_URL")),
            bucket=EnvVar("TWIN_S3_BUCKET"),
            prefix=EnvVar("TWIN_S3_PREFIX"),
        ),
        "profiles": ProfilesResource(path=EnvVar("TWIN_PROFILES")),
        # Set GITHUB_TOKEN (it may be empty) to raise GitHub's API rate limit.
        "http": CrawlerHttpResource(github_token=EnvVar("GITHUB_TOKEN")),
        "milvus": MilvusResource(uri=EnvVar("TWIN_MILVUS_URI"), token=EnvVar("TWIN_MILVUS_TOKEN")),
        "embedder": EmbedderResource(**embedder_options(settings)),
        "trainer": TrainerLauncherResource(
            launcher=EnvVar("TWIN_TRAINER_LAUNCHER"),
            nproc_per_node=EnvVar.int("TWIN_TRAINER_NPROC"),
            deepspeed=EnvVar("TWIN_TRAINER_DEEPSPEED"),
            work_dir=EnvVar("TWIN_TRAINER_WORK_DIR"),
            # Used when TWIN_TRAINER_LAUNCHER=kubernetes: Jobs from the training module's template.
            namespace=EnvVar("TWIN_TRAINING_NAMESPACE"),
            base_model=settings.base_model,
            recipe_file=settings.training_recipe,
        ),
        "instruction_llm": InstructionLLMResource(
            base_url=EnvVar("TWIN_INSTRUCTION_LLM_URL"),
            model=EnvVar("TWIN_INSTRUCTION_LLM_MODEL"),
            api_key=EnvVar("TWIN_INSTRUCTION_LLM_API_KEY"),
        ),
        # Promotion rolls TGI (infra/terraform/modules/serving).
        "deployment": KubernetesModelDeploymentResource(deployment=EnvVar("TWIN_TGI_DEPLOYMENT")),
    }


def resources_for(settings: Settings) -> dict[str, Any]:
    return local_resources(settings) if settings.env == "local" else prod_resources(settings)
