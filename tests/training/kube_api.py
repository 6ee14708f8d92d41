"""A small Kubernetes API server on 127.0.0.1: just the endpoints the training launcher and the
TGI rollout call, speaking the API's JSON, so the real ``kubernetes`` client is under test.

No cluster can run here (no container runtime, no kind/k3s, no network to pull images), and
what matters on this side is the conversation: the requests the client sends (paths, query
parameters, content types, bodies) and what it makes of the answers, including failures.

A created Job gets one pod; ``kubelet(job, cancelled)`` plays that pod in a thread and returns
``(exit code, log)``. It may block until ``cancelled`` is set (the Job was deleted).
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CREATED = "2025-01-01T00:00:00Z"

Kubelet = Callable[[dict[str, Any], threading.Event], tuple[int, str]]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class FakeKubeAPI:
    def __init__(self) -> None:
        self.config_maps: dict[tuple[str, str], dict[str, str]] = {}
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.logs: dict[tuple[str, str], str] = {}
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.forbidden: set[str] = set()  # paths answered with 403
        self.kubelet: Kubelet = lambda job, cancelled: (0, "done\n")
        self.pending_reason = ""  # e.g. Unschedulable: the pod never starts
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        for event in self._cancel.values():
            event.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def requests(self, method: str, fragment: str = "") -> list[Seen]:
        return [s for s in self.seen if s.method == method and fragment in s.path]

    # -- objects --------------------------------------------------------------------------------
    def add_deployment(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self.deployments[(namespace, name)] = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "generation": 1, "creationTimestamp": CREATED},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}, "annotations": dict(annotations)},
                    "spec": {"containers": [{"name": name, "image": "tgi:3"}]},
                },
            },
        }

    def _create_job(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        job = copy.deepcopy(body)
        n = next(self._ids)
        meta = job.setdefault("metadata", {})
        name = meta.get("name") or f"{meta.get('generateName', 'job-')}{n:05d}"
        meta.update(name=name, namespace=namespace, uid=f"uid-{n}", creationTimestamp=CREATED)
        job["status"] = {"active": 1}
        pod_name = f"{name}-p{n}"
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": namespace, "creationTimestamp": CREATED,
                         "labels": {**job["spec"]["template"]["metadata"].get("labels", {}),
                                    JOB_NAME_LABEL: name, "job-name": name}},
            "spec": copy.deepcopy(job["spec"]["template"]["spec"]),
            "status": {"phase": "Pending"},
        }
        if self.pending_reason:
            reason, _, message = self.pending_reason.partition(": ")
            pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": reason, "message": message}]
        self.jobs[(namespace, name)] = job
        self.pods[(namespace, pod_name)] = pod
        self.logs[(namespace, pod_name)] = ""
        cancelled = self._cancel[name] = threading.Event()
        if not self.pending_reason:
            thread = threading.Thread(target=self._run_pod, args=(namespace, name, pod_name, cancelled), daemon=True)
            self._threads.append(thread)
            thread.start()
        return job

    def _run_pod(self, namespace: str, name: str, pod_name: str, cancelled: threading.Event) -> None:
        with self.lock:
            self.pods[(namespace, pod_name)]["status"]["phase"] = "Running"
            job = copy.deepcopy(self.jobs[(namespace, name)])
        code, log = self.kubelet(job, cancelled)
        with self.lock:
            if (namespace, name) not in self.jobs:
                return  # deleted meanwhile
            self.logs[(namespace, pod_name)] = log
            pod = self.pods[(namespace, pod_name)]
            pod["status"] = {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [{
                    "name": "train", "image": "training:1", "imageID": "", "ready": False, "restartCount": 0,
                    "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}},
                }],
            }
            condition = (
                {"type": "Complete", "status": "True"} if code == 0 else
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit"}
            )
            self.jobs[(namespace, name)]["status"] = {
                "succeeded" if code == 0 else "failed": 1, "conditions": [condition]}

    # -- routing --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if path in self.forbidden:
            return 403, status(403, "Forbidden", f"{parts[-1]} is forbidden: User \"system:serviceaccount:dagster:dagster\" cannot {method.lower()} it")
        with self.lock:
            match parts:
                case ["api", "v1", "namespaces", ns, "configmaps", name] if method == "GET":
                    if (ns, name) not in self.config_maps:
                        return 404, status(404, "NotFound", f'configmaps "{name}" not found')
                    return 200, {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": name, "namespace": ns}, "data": self.config_maps[(ns, name)]}
                case ["apis", "batch", "v1", "namespaces", ns, "jobs"] if method == "POST":
                    return 201, self._create_job(ns, body)
                case ["apis", "batch", "v1", "namespaces", ns, "jobs", name, "status"] if method == "GET":
                    if (ns, name) not in self.jobs:
                        return 404, status(404, "NotFound", f'jobs.batch "{name}" not found')
                    return 200, self.jobs[(ns, name)]
                case ["apis", "batch", "v1", "namespaces", ns, "jobs", name] if method == "DELETE":
                    if self.jobs.pop((ns, name), None) is None:
                        return 404, status(404, "NotFound", f'jobs.batch "{name}" not found')
                    self._cancel[name].set()
                    for key in [k for k, p in self.pods.items() if p["metadata"]["labels"].get(JOB_NAME_LABEL) == name]:
                        del self.pods[key]
                    return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
                case ["api", "v1", "namespaces", ns, "pods"] if method == "GET":
                    key, _, value = query.get("labelSelector", [""])[0].partition("=")
                    items = [p for (pns, _), p in self.pods.items() if pns == ns and p["metadata"]["labels"].get(key) == value]
                    return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
                case ["api", "v1", "namespaces", ns, "pods", name, "log"] if method == "GET":
                    if (ns, name) not in self.pods:
                        return 404, status(404, "NotFound", f'pods "{name}" not found')
                    container = query.get("container", [""])[0]
                    if container and container not in {c["name"] for c in self.pods[(ns, name)]["spec"]["containers"]}:
                        return 400, status(400, "BadRequest", f"container {container} is not valid for pod {name}")
                    lines = self.logs[(ns, name)].splitlines()
                    tail = int(query.get("tailLines", [str(len(lines))])[0])
                    return 200, "".join(line + "\n" for line in lines[len(lines) - tail:] if tail)
                case ["apis", "apps", "v1", "namespaces", ns, "deployments", name] if method == "PATCH":
                    return self._patch_deployment(ns, name, body)
        return 404, status(404, "NotFound", f"the fake API does not serve {method} {path}")

    def _patch_deployment(self, ns: str, name: str, body: Any) -> tuple[int, Any]:
        if (ns, name) not in self.deployments:
            return 404, status(404, "NotFound", f'deployments.apps "{name}" not found')
        current = self.deployments[(ns, name)]
        patched = merge_patch(current, body)
        if patched["spec"] != current["spec"]:
            patched["metadata"]["generation"] = current["metadata"]["generation"] + 1
        self.deployments[(ns, name)] = patched
        return 200, patched


def _handler(api: FakeKubeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            parsed = urlsplit(self.path)
            query = parse_qs(parsed.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            body = json.loads(raw) if raw else None
            api.seen.append(Seen(self.command, parsed.path, query, content_type, body))
            if self.command == "PATCH" and content_type != "application/merge-patch+json":
                # What the API server answers a dict sent as a JSON Patch (which must be a list).
                code, answer = 400, status(400, "BadRequest", f"{content_type}: cannot unmarshal object into []jsonpatch.Operation")
            else:
                code, answer = api.handle(self.command, parsed.path, query, body)
            if isinstance(answer, str):
                data, kind = answer.encode(), "text/plain"
            else:
                data, kind = json.dumps(answer).encode(), "application/json"
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815

    return Handler
