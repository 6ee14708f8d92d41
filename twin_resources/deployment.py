"""How a promotion reaches the model server. ``production_model`` moves the registry alias, then
calls ``roll(version)`` on this resource.

Locally nothing is needed: ``twin serve-model`` re-reads the alias and reloads by itself. On
Kubernetes the TGI pods load the production model once, at start (an init container copies it
from S3), so the deployment is patched: a new value of the pod-template annotation
``twin/model-version`` starts a rolling update.
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field


class ModelDeploymentResource(ConfigurableResource):
    """Makes the serving side pick up a promoted version. Assets only call ``roll()``."""

    def roll(self, version: str) -> dict[str, Any]:
        """Serve ``version``; returns what was done (for asset metadata)."""
        raise NotImplementedError


class LocalModelDeploymentResource(ModelDeploymentResource):
    reload_note: str = Field(
        "twin serve-model reloads when the production alias changes",
        description="Shown in the asset metadata: nothing to roll locally.",
    )

    def roll(self, version: str) -> dict[str, Any]:
        return {"target": "local", "version": version, "action": self.reload_note}


class KubernetesModelDeploymentResource(ModelDeploymentResource):
    deployment: str = Field(description="<namespace>/<name> of the TGI deployment (TWIN_TGI_DEPLOYMENT).")
    kube_api_url: str = Field(
        "", description="API URL without credentials (e.g. http://127.0.0.1:8001 behind kubectl proxy); empty: the pod's service account, else ~/.kube/config."
    )

    def roll(self, version: str) -> dict[str, Any]:
        from twin_core.kube import MODEL_VERSION_ANNOTATION, api_client, roll_deployment

        with api_client(self.kube_api_url) as api:
            rolled = roll_deployment(api, self.deployment, version)
        return {"target": "kubernetes", **rolled,
                "action": f"patched {MODEL_VERSION_ANNOTATION}={version}: rolling update"}
