"""The Kubernetes API as training uses it: a client and clear errors.

``kubernetes`` (the official client, installed with the ``prod`` extra) is imported inside the
functions, so loading the Dagster code location never pays for it.

Names shared with ``infra/terraform`` (keep them in step):

- the Job template: ConfigMap ``training-job``, key ``job.yaml``, container ``train``
  (``modules/training``), in ``TWIN_TRAINING_NAMESPACE``.
"""

from __future__ import annotations

import json
from typing import Any

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
