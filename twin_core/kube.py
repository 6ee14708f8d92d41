"""The Kubernetes API as training and promotion use it: a client, clear errors, the TGI rollout.

``kubernetes`` (the official client, installed with the ``prod`` extra) is imported inside the
functions, so loading the Dagster code location never pays for it.

Names shared with ``infra/terraform`` (keep them in step):

- the TGI pod-template annotation ``twin/model-version`` (``modules/serving``): changing it rolls
  the deployment; ``TWIN_TGI_DEPLOYMENT`` names it as ``<namespace>/<name>``;
- the Job template: ConfigMap ``training-job``, key ``job.yaml``, container ``train``
  (``modules/training``), in ``TWIN_TRAINING_NAMESPACE``.
"""

from __future__ import annotations

import json
from typing import Any

MODEL_VERSION_ANNOTATION = "twin/model-version"
REQUEST_TIMEOUT_S = 30


class KubernetesError(RuntimeError):
    """A Kubernetes API call failed; the message names the object and the API's reason."""


def api_client(api_url: str = "") -> Any:
    """A ``kubernetes.client.ApiClient``.

    ``api_url`` set (e.g. ``http://127.0.0.1:8001`` behind ``kubectl proxy``): talk to it without
    credentials. Empty: the pod's service account when running in a cluster, else the current
    context of ``~/.kube/config``.
    """
    from kubernetes import client, config

    configuration = client.Configuration()
    if api_url:
        configuration.host = api_url.rstrip("/")
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)
    return client.ApiClient(configuration)


def split_name(qualified: str) -> tuple[str, str]:
    """``"<namespace>/<name>"`` -> ``(namespace, name)``."""
    namespace, _, name = qualified.partition("/")
    if not namespace or not name or "/" in name:
        raise ValueError(f"expected <namespace>/<name>, got {qualified!r}")
    return namespace, name


def describe_api_error(error: Exception) -> str:
    """``403 Forbidden: deployments.apps "tgi" is forbidden: ...`` from an ``ApiException``."""
    status = getattr(error, "status", None)
    reason = getattr(error, "reason", None) or type(error).__name__
    message = ""
    body = getattr(error, "body", None)
    if body:
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = str(body)[:300]
    head = f"{status} {reason}" if status else str(reason)
    return f"{head}: {message}" if message else head


def model_version_patch(version: str) -> dict[str, Any]:
    """The merge patch that rolls a deployment to ``version``: one pod-template annotation.

    A changed pod template starts a rolling update; the same version again changes nothing.
    """
    if not version:
        raise ValueError("version must not be empty")
    return {"spec": {"template": {"metadata": {"annotations": {MODEL_VERSION_ANNOTATION: version}}}}}


def roll_deployment(api: Any, deployment: str, version: str) -> dict[str, Any]:
    """Patch ``<namespace>/<name>`` so its pods are replaced by ones serving ``version``.

    Returns ``{"deployment", "version", "generation"}`` from the API's answer.
    """
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    namespace, name = split_name(deployment)
    apps = client.AppsV1Api(api)
    try:
        # The generated client would send a dict as a JSON Patch (a list of operations is
        # expected there); say explicitly that this is a merge patch.
        answer = apps.patch_namespaced_deployment(
            name, namespace, model_version_patch(version),
            _content_type="application/merge-patch+json", _request_timeout=REQUEST_TIMEOUT_S,
        )
    except ApiException as error:
        raise KubernetesError(
            f"cannot roll deployment {deployment} to {version}: {describe_api_error(error)}"
        ) from error
    annotations = (answer.spec.template.metadata.annotations or {}) if answer.spec else {}
    if annotations.get(MODEL_VERSION_ANNOTATION) != version:
        raise KubernetesError(
            f"deployment {deployment} did not take the annotation {MODEL_VERSION_ANNOTATION}={version}"
        )
    return {"deployment": deployment, "version": version, "generation": answer.metadata.generation}
