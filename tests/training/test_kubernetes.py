"""Training as a Kubernetes Job.

The Job is built by pure functions, tested as such. The real ``kubernetes`` client
then talks to ``FakeKubeAPI`` (tests/training/kube_api.py), a loopback HTTP server with just the
endpoints used: a cluster cannot run here, and what this side owns is the conversation with the
API server. One slow test lets the fake kubelet run the Job's real command (torchrun and the
training entry point) on the tiny model.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
import pytest
import yaml

from tests.fixtures.authors import materialize_author
from tests.training.kube_api import JOB_NAME_LABEL, FakeKubeAPI
from twin_core.authors import AuthorStore
from twin_core.datasets.store import INSTRUCTION_DATASET, DatasetStore
from twin_core.kube import KubernetesError
from twin_core.object_store import LocalFolderStore
from twin_core.registry import BASE_MODEL, LATEST, TWIN_MODEL, ModelRegistry
from twin_core.training.config import TrainingConfig
from twin_core.training.kubernetes import (
    JOB_TEMPLATE_CONFIG_MAP,
    JOB_TEMPLATE_KEY,
    TRAIN_CONTAINER,
    KubernetesJobLauncher,
    TrainingTimeout,
    build_job,
    job_state,
    pod_summary,
)
from twin_core.training.launch import TrainingFailed
from twin_core.training.pipeline import CANDIDATE, evaluate_remotely, train_twin
from twin_core.training.remote import (
    REMOTE_EVALUATION_KIND,
    REMOTE_KIND,
    RemoteBaseModel,
    RemoteEvaluation,
    RemoteTraining,
    store_spec,
)
from twin_core.training.staging import register_twin
from twin_core.training.store_spec import store_from_spec
from twin_resources.object_store import LocalObjectStoreResource
from twin_resources.trainer import TrainerLauncherResource

ROOT = Path(__file__).resolve().parents[2]
TRAINING_TF = ROOT / "infra/terraform/modules/training/main.tf"
NAMESPACE = "twin-training"
RECIPE = {"max_steps": 2, "max_length": 64, "learning_rate": 1e-2, "per_device_train_batch_size": 4}

# What infra/terraform/modules/training renders into the ConfigMap, trimmed to what matters here.
TEMPLATE: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"generateName": "twin-training-", "namespace": NAMESPACE,
                 "labels": {"app.kubernetes.io/name": "twin-training"}},
    "spec": {
        "backoffLimit": 2,
        "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
        "activeDeadlineSeconds": 43200,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "twin-training"}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "train",
                    "image": "llm-twin/training:1",
                    "command": ["torchrun", "--nproc-per-node", "1", "-m", "twin_core.training"],
                    "args": [],
                    "env": [{"name": "TWIN_TRAINER_WORK_DIR", "value": "/scratch/work"}],
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                }],
            },
        },
    },
}

AUTHOR = "ann"  # the author whose twin these tests train


# -- pure functions ---------------------------------------------------------------------------

def test_build_job_appends_the_run_config_to_the_train_container():
    job = build_job(TEMPLATE, '{"kind": "x"}', namespace="ns", labels={"dagster/run-id": "r1"})
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == TEMPLATE["spec"]["template"]["spec"]["containers"][0]["command"]
    assert container["args"] == ["--config", '{"kind": "x"}']
    assert job["metadata"]["namespace"] == "ns" and job["metadata"]["generateName"] == "twin-training-"
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert labels == {"app.kubernetes.io/name": "twin-training", "dagster/run-id": "r1"}
    assert TEMPLATE["spec"]["template"]["spec"]["containers"][0]["args"] == []  # template untouched
    assert job["spec"]["backoffLimit"] == 2 and job["spec"]["activeDeadlineSeconds"] == 43200
    assert job["spec"]["podFailurePolicy"] == TEMPLATE["spec"]["podFailurePolicy"]


def test_build_job_refuses_templates_it_cannot_complete():
    with pytest.raises(ValueError, match="no container 'train'.*containers: sidecar"):
        build_job({**TEMPLATE, "spec": {"template": {"spec": {"containers": [{"name": "sidecar"}]}}}}, "{}", namespace="ns")
    already = json.loads(json.dumps(TEMPLATE))
    already["spec"]["template"]["spec"]["containers"][0]["args"] = ["--config", "/etc/run.json"]
    with pytest.raises(ValueError, match="already passes --config"):
        build_job(already, "{}", namespace="ns")
    with pytest.raises(ValueError, match="not a batch Job"):
        build_job({**TEMPLATE, "kind": "Deployment"}, "{}", namespace="ns")
    with pytest.raises(ValueError, match="longer than 63"):
        build_job(TEMPLATE, "{}", namespace="ns", labels={"k": "x" * 64})


def test_job_state_reads_conditions():
    assert job_state({"status": {"active": 1}}) == ("running", "")
    assert job_state({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == ("succeeded", "Complete")
    failed = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}
    assert job_state({"status": {"conditions": [failed]}}) == ("failed", "DeadlineExceeded: Job was active longer than specified deadline")
    assert job_state({"status": {"conditions": [{**failed, "status": "False"}]}})[0] == "running"
    assert job_state({"status": {"conditions": [{"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy"}]}})[0] == "failed"


def test_pod_summary_names_why_a_pod_does_not_run():
    pod = {"metadata": {"name": "p"}, "status": {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes have nvidia.com/gpu"}],
        "containerStatuses": [{"name": "train", "state": {"waiting": {"reason": "ImagePullBackOff"}}}],
    }}
    assert pod_summary(pod) == "p: Pending (Unschedulable: 0/3 nodes have nvidia.com/gpu; train waiting: ImagePullBackOff)"


def test_remote_run_round_trips_and_rejects_unknown_settings(tmp_path):
    spec = RemoteTraining(store=store_spec(LocalFolderStore(tmp_path)), base_model_version="b", dataset_version="d",
                          preference_version=None, hyperparameters=RECIPE, deepspeed="zero2", lineage={"fingerprint": "f"})
    data = json.loads(spec.to_json())
    assert data["kind"] == REMOTE_KIND and RemoteTraining.from_dict(data) == spec
    assert store_from_spec(data["store"]).root == LocalFolderStore(tmp_path).root
    with pytest.raises(ValueError, match="unknown remote training settings"):
        RemoteTraining.from_dict({**data, "surprise": 1})
    evaluation = RemoteEvaluation(store=spec.store, version="v3", embedding_model="m", embedding_backend="torch",
                                  max_new_tokens=8, style_examples=2, style_tolerance=0.0, distractors=["x"])
    data = json.loads(evaluation.to_json())
    assert data["kind"] == REMOTE_EVALUATION_KIND and RemoteEvaluation.from_dict(data) == evaluation
    with pytest.raises(ValueError, match="not a remote evaluation"):
        RemoteEvaluation.from_dict(json.loads(spec.to_json()))


def test_an_evaluation_job_that_writes_no_summary_is_an_error(kube, tmp_path):
    store = _store_with_inputs(tmp_path)
    kube.kubelet = _pod_that_registers(tmp_path)
    train_twin(store, RECIPE, tmp_path / "work", launcher="kubernetes", job_launcher=_launcher(kube))
    kube.kubelet = lambda job, cancelled: (0, "done\n")
    with pytest.raises(TrainingFailed, match="wrote no summary for twin v1"):
        evaluate_remotely(store, _launcher(kube), embedding_model="m", embedding_backend="torch")


def test_names_match_the_terraform_modules():
    """The Python side and infra/terraform must agree on these names, or nothing connects."""
    training = TRAINING_TF.read_text()
    assert re.search(rf'kubernetes_config_map_v1" "job_template".*?name\s+= "{JOB_TEMPLATE_CONFIG_MAP}"', training, re.S)
    assert f'"{JOB_TEMPLATE_KEY}" = yamlencode(local.job_template)' in training
    assert re.search(rf'name\s+= "{TRAIN_CONTAINER}"\s+image\s+= var.image', training)
    assert re.search(r'"-m", "twin_core.training"\]\s+#.*\n\s+args\s+= \[\]', training)
    assert '{ name = "TWIN_TRAINER_WORK_DIR", value = "/scratch/work" }' in training
    main = (ROOT / "infra/terraform/environment/main.tf").read_text()
    for variable in ("TWIN_TRAINING_NAMESPACE", "TWIN_TRAINER_LAUNCHER", "TWIN_TRAINER_NPROC",
                     "TWIN_TRAINER_DEEPSPEED", "TWIN_TRAINER_WORK_DIR"):
        assert re.search(rf"^\s+{variable}\s+=", main, re.M), variable
    assert re.search(r'TWIN_TRAINER_LAUNCHER\s+= "kubernetes"', main)


# -- the real client against the loopback API -------------------------------------------------

@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    api = FakeKubeAPI()
    api.config_maps[(NAMESPACE, JOB_TEMPLATE_CONFIG_MAP)] = {JOB_TEMPLATE_KEY: yaml.safe_dump(TEMPLATE)}
    try:
        yield api
    finally:
        api.close()


def _launcher(kube: FakeKubeAPI, **overrides: Any) -> KubernetesJobLauncher:
    settings: dict[str, Any] = dict(namespace=NAMESPACE, api_url=kube.url, poll_interval_s=0.02, timeout_s=20, log_tail_lines=5)
    return KubernetesJobLauncher(**{**settings, **overrides})


def _config_arg(job: dict[str, Any]) -> str:
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:-1] == ["--config"]
    return args[-1]


def test_job_is_created_from_the_config_map_and_followed_to_completion(kube):
    seen_args: list[str] = []

    def kubelet(job, cancelled):
        seen_args.append(_config_arg(job))
        return 0, "step 1 loss 7.1\nstep 2 loss 6.9\n"

    kube.kubelet = kubelet
    lines: list[str] = []
    name = _launcher(kube, labels={"dagster/run-id": "run-1"}).run('{"kind": "test"}', log=lines.append)

    assert re.fullmatch(rf"{NAMESPACE}/twin-training-\d{{5}}", name)
    name = name.split("/")[1]
    assert seen_args == ['{"kind": "test"}']
    created = kube.requests("POST", f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs")
    assert len(created) == 1 and created[0].body["metadata"]["labels"]["dagster/run-id"] == "run-1"
    assert kube.requests("GET", f"/configmaps/{JOB_TEMPLATE_CONFIG_MAP}")
    assert len(kube.requests("GET", f"/jobs/{name}/status")) >= 1
    assert f"training job {NAMESPACE}/{name} succeeded" in lines and "step 2 loss 6.9" in lines
    assert not kube.requests("DELETE")  # a finished Job stays for its TTL (logs stay readable)


def test_failing_job_raises_with_the_job_name_and_the_log_tail(kube):
    log = "".join(f"rank0: line {i}\n" for i in range(1, 101)) + "torch.OutOfMemoryError: CUDA out of memory\n"
    kube.kubelet = lambda job, cancelled: (1, log)

    with pytest.raises(TrainingFailed) as caught:
        _launcher(kube).run("{}")
    message = str(caught.value)
    name = re.search(r"training job twin-training/(twin-training-\d{5}) failed", message).group(1)
    assert "BackoffLimitExceeded: Job has reached the specified backoff limit" in message
    assert f"{name}-p1: Failed (train terminated: Error exit 1)" in message
    assert "torch.OutOfMemoryError: CUDA out of memory" in message
    assert "line 97" in message and "line 96\n" not in message  # only the last 5 lines
    log_request = kube.requests("GET", "/log")[-1]
    assert log_request.query == {"container": ["train"], "tailLines": ["5"]}
    assert kube.requests("GET", "/pods")[0].query["labelSelector"] == [f"{JOB_NAME_LABEL}={name}"]


def test_job_that_never_finishes_times_out_and_is_deleted(kube):
    kube.pending_reason = "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu"

    with pytest.raises(TrainingTimeout) as caught:
        _launcher(kube, timeout_s=0.3).run("{}")
    message = str(caught.value)
    assert re.search(r"training job twin-training/twin-training-\d{5} did not finish within 0.3 s; deleted it", message)
    assert "Pending (Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu)" in message
    deleted = kube.requests("DELETE", "/jobs/")
    assert len(deleted) == 1 and not kube.jobs and not kube.pods


def test_running_job_is_deleted_when_the_run_is_stopped(kube):
    kube.kubelet = lambda job, cancelled: (0, "") if cancelled.wait(30) else (0, "")
    launcher = _launcher(kube)
    polls = {"n": 0}

    def interrupt(seconds: float) -> None:
        polls["n"] += 1
        if polls["n"] == 3:
            raise KeyboardInterrupt  # what Dagster's termination raises in the step

    launcher.sleep = interrupt
    with pytest.raises(KeyboardInterrupt):
        launcher.run("{}")
    assert len(kube.requests("DELETE", "/jobs/")) == 1 and not kube.jobs


def test_missing_template_names_the_config_map(kube):
    kube.config_maps.clear()
    with pytest.raises(KubernetesError, match=r"ConfigMap twin-training/training-job.*404 Not Found: configmaps \"training-job\" not found"):
        _launcher(kube).run("{}")
    assert not kube.requests("POST")


def test_a_passing_blip_of_the_api_does_not_abandon_the_job(kube):
    kube.kubelet = lambda job, cancelled: (0, "ok\n")
    launcher = _launcher(kube)
    real_status, calls = launcher.status, {"n": 0}

    def flaky(name: str):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise KubernetesError("503 Service Unavailable")
        return real_status(name)

    launcher.status = flaky  # type: ignore[method-assign]
    assert launcher.run("{}").startswith(f"{NAMESPACE}/twin-training-")
    launcher_down = _launcher(kube, max_api_errors=2)
    launcher_down.status = lambda name: (_ for _ in ()).throw(KubernetesError("503 Service Unavailable"))  # type: ignore[method-assign]
    with pytest.raises(KubernetesError, match="503"):
        launcher_down.run("{}")


# -- train_twin through the Job ----------------------------------------------------------------

def _model_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"model_type": "llama"}')
    return path


def _store_with_inputs(tmp_path: Path, base_dir: Path | None = None, rows: int = 4) -> AuthorStore:
    """The shared base and author Ann's instruction dataset; Ann's view of the store."""
    store = AuthorStore(LocalFolderStore(tmp_path / "store"), AUTHOR)
    base = ModelRegistry(store, BASE_MODEL)
    base.register(base_dir or _model_folder(tmp_path / "base"), {"source": "tiny"}, version="b1")
    base.set_alias(LATEST, "b1")
    messages = [[{"role": "user", "content": f"Write a post about topic {i}."},
                 {"role": "assistant", "content": f"Good tests save every release, number {i}."}] for i in range(rows)]
    DatasetStore(store).write(INSTRUCTION_DATASET, {
        "train": [{"id": f"t{i}", "messages": m} for i, m in enumerate(messages)],
        "test": [{"id": "x0", "messages": messages[0]}],
    }, {})
    return store


def _pod_that_registers(tmp_path: Path):
    """Stands in for the training pod: registers a model with the run's lineage, as
    ``run_remote`` does after training (the slow test below runs the real thing)."""
    def kubelet(job, cancelled):
        spec = RemoteTraining.from_dict(json.loads(_config_arg(job)))
        config = TrainingConfig(base_model_dir="-", dataset_dir="-", output_dir="-", deepspeed=spec.deepspeed, **spec.hyperparameters)
        result = {"merged_dir": str(_model_folder(tmp_path / f"merged-{spec.run_id}")), "world_size": 4,
                  "sft": {"loss_curve": [[1, 7.0], [2, 6.5]], "steps": 2, "tokens_per_second": 10.0, "train_runtime_s": 1.0}}
        register_twin(store_from_spec(spec.store), spec.lineage, config, result,
                      {"launcher": "kubernetes", "nproc": 4, "deepspeed": spec.deepspeed})
        return 0, "registered\n"

    return kubelet


def test_train_twin_on_kubernetes_returns_the_version_the_job_registered(kube, tmp_path):
    store = _store_with_inputs(tmp_path)
    kube.kubelet = _pod_that_registers(tmp_path)
    outcome = train_twin(store, RECIPE, tmp_path / "work", launcher="kubernetes", deepspeed="zero2",
                         job_launcher=_launcher(kube))

    assert outcome.version == "v1" and not outcome.reused
    assert outcome.job == "/".join(next(iter(kube.jobs)))
    card = ModelRegistry(store, TWIN_MODEL).card(CANDIDATE)
    assert card["version"] == "v1" and card["base_model"]["version"] == "b1"
    assert card["launcher"] == {"launcher": "kubernetes", "nproc": 4, "deepspeed": "zero2", "world_size": 4}
    assert card["hyperparameters"]["max_steps"] == 2 and card["hyperparameters"]["deepspeed"] == "zero2"
    sent = RemoteTraining.from_dict(json.loads(kube.requests("POST")[0].body["spec"]["template"]["spec"]["containers"][0]["args"][1]))
    assert sent.lineage["fingerprint"] == card["fingerprint"] and sent.dataset_version == card["dataset"]["version"]
    assert not (tmp_path / "work").exists()  # nothing staged on the Dagster side

    again = train_twin(store, RECIPE, tmp_path / "work", launcher="kubernetes", deepspeed="zero2", job_launcher=_launcher(kube))
    assert again.reused and again.version == "v1" and len(kube.requests("POST")) == 1


def test_a_job_that_succeeds_without_registering_is_an_error(kube, tmp_path):
    store = _store_with_inputs(tmp_path)
    kube.kubelet = lambda job, cancelled: (0, "exited early\n")
    with pytest.raises(TrainingFailed, match=r"training job twin-training/twin-training-\d{5} succeeded but registered no twin version with fingerprint [0-9a-f]{16}"):
        train_twin(store, RECIPE, tmp_path / "work", launcher="kubernetes", job_launcher=_launcher(kube))
    with pytest.raises(ValueError, match="needs a job launcher"):
        train_twin(store, RECIPE, tmp_path / "work", launcher="kubernetes")


def test_twin_model_asset_uses_the_kubernetes_launcher_from_its_resource(kube, tmp_path):
    from twin_assets.training.assets import twin_model

    _store_with_inputs(tmp_path)
    kube.kubelet = _pod_that_registers(tmp_path)
    trainer = TrainerLauncherResource(launcher="kubernetes", namespace=NAMESPACE, kube_api_url=kube.url,
                                      poll_interval_s=0.02, work_dir=str(tmp_path / "work"))
    result = materialize_author(
        [twin_model], author=AUTHOR,
        resources={"object_store": LocalObjectStoreResource(root=str(tmp_path / "store")), "trainer": trainer},
        run_config={"ops": {"twin_model": {"config": RECIPE}}},
    )
    metadata = result.asset_materializations_for_node("twin_model")[0].metadata
    assert metadata["version"].value == "v1"
    assert metadata["training_job"].value == "/".join(next(iter(kube.jobs)))
    assert kube.requests("POST")[0].body["metadata"]["labels"]["dagster/run-id"] == result.run_id


def test_base_model_asset_registers_the_base_in_a_job_once(kube, tmp_path, tiny_model_dir):
    """With the Kubernetes launcher the download runs in the Job (here a kubelet that runs the
    Job's entry point in this process, on a local folder as the source); the run pod only finds
    the version it registered. A second materialization starts no Job."""
    from twin_assets.training.assets import base_model
    from twin_core.training.__main__ import main as job_entry_point

    def kubelet(job, cancelled):
        config = _config_arg(job)
        assert RemoteBaseModel.from_dict(json.loads(config)).source == str(tiny_model_dir)
        job_entry_point(["--config", config])
        return 0, "registered\n"

    kube.kubelet = kubelet
    trainer = TrainerLauncherResource(launcher="kubernetes", namespace=NAMESPACE, kube_api_url=kube.url,
                                      poll_interval_s=0.02, work_dir=str(tmp_path / "work"),
                                      base_model=str(tiny_model_dir))
    resources = {"object_store": LocalObjectStoreResource(root=str(tmp_path / "store")), "trainer": trainer}
    for _ in range(2):
        result = dg.materialize([base_model], instance=dg.DagsterInstance.ephemeral(), resources=resources)
        metadata = result.asset_materializations_for_node("base_model")[0].metadata
        assert metadata["provenance"].value == {"folder": str(tiny_model_dir.resolve())}
    assert len(kube.requests("POST")) == 1  # the second run found the registered version
    store = LocalFolderStore(tmp_path / "store")
    assert ModelRegistry(store, BASE_MODEL).card("latest")["source"] == str(tiny_model_dir)
    assert not (tmp_path / "work").exists()  # nothing downloaded on the Dagster side


def test_preference_pairs_are_written_by_a_job(kube, tmp_path, tiny_model_dir):
    """The base model's rejected answers are generated in the Job (its entry point, run by the
    kubelet in this process); the asset reads back what it wrote."""
    import traceback

    from twin_assets.datasets.assets import preference_dataset
    from twin_core.datasets.store import PREFERENCE_DATASET
    from twin_core.training.__main__ import main as job_entry_point

    store = _store_with_inputs(tmp_path, base_dir=tiny_model_dir)
    # Rows as the instruction dataset builder writes them.
    rows = {split: [{"id": f"{split}{i}", "split": split, "document_id": f"d-{split}{i}", "document_hash": f"h{i}",
                     "platform": "linkedin", "category": "post", "task": "write",
                     "messages": [{"role": "user", "content": f"Write a post about release {i}."},
                                  {"role": "assistant", "content": f"Good tests save every release, number {i}."}]}
                    for i in range(n)] for split, n in (("train", 4), ("test", 2))}
    DatasetStore(store).write(INSTRUCTION_DATASET, rows, {})
    kinds = []

    def kubelet(job, cancelled):
        config = _config_arg(job)
        kinds.append(json.loads(config)["kind"])
        try:
            job_entry_point(["--config", config])
        except Exception:
            return 1, traceback.format_exc()
        return 0, "written\n"

    kube.kubelet = kubelet
    trainer = TrainerLauncherResource(launcher="kubernetes", namespace=NAMESPACE, kube_api_url=kube.url,
                                      poll_interval_s=0.02, job_timeout_s=120, work_dir=str(tmp_path / "work"))
    result = materialize_author(
        [preference_dataset], author=AUTHOR,
        resources={"object_store": LocalObjectStoreResource(root=str(tmp_path / "store")), "trainer": trainer},
        run_config={"ops": {"preference_dataset": {"config": {"max_pairs_per_split": 2, "max_new_tokens": 8}}}},
    )
    metadata = result.asset_materializations_for_node("preference_dataset")[0].metadata
    assert kinds == ["twin/remote-preference-pairs"]
    assert metadata["train_pairs"].value == metadata["test_pairs"].value == 2
    assert metadata["base_model_version"].value == "b1"
    manifest = DatasetStore(store).manifest(PREFERENCE_DATASET)
    assert manifest["rejected_by"] == {"name": BASE_MODEL, "version": "b1"}
    assert not (tmp_path / "work").exists()  # nothing generated on the Dagster side


def test_unknown_launcher_is_refused():
    with pytest.raises(ValueError, match="unknown trainer launcher 'k8s'"):
        TrainerLauncherResource(launcher="k8s", work_dir="w").job_launcher()
    assert TrainerLauncherResource(work_dir="w").job_launcher() is None


def _pod_env(container: dict[str, Any], scratch: Path) -> dict[str, str]:
    """The container's environment on this machine, with the node's scratch disk at ``scratch``."""
    from twin_core.training.run import free_port

    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false",
            **{e["name"]: e["value"] for e in container["env"]}, "TWIN_TRAINER_WORK_DIR": str(scratch),
            "PET_MASTER_PORT": str(free_port())}  # torchrun's --master-port, free on this machine


@pytest.mark.slow
def test_a_retried_training_pod_resumes_from_the_checkpoints_of_the_attempt_before(kube, tmp_path, tiny_model_dir):
    """The Job's retry (backoffLimit) runs the same pod spec again, so the same run id: the fake
    kubelet kills the first attempt's processes after its first uploaded checkpoint, as a
    lost node would, and runs the pod again on an empty scratch disk."""
    from twin_core.training.checkpoints import MANIFEST

    store = _store_with_inputs(tmp_path, base_dir=tiny_model_dir, rows=16)
    recipe = {**RECIPE, "max_steps": 12, "save_steps": 3}
    logs: list[str] = []
    killed_after: list[int] = []  # checkpoints in the store when the first attempt died

    def uploaded() -> list[int]:
        """Steps of the run's complete checkpoints in the store (the manifest comes last)."""
        return sorted(int(m.parent.name.split("-")[1]) for m in (tmp_path / "store").rglob(f"checkpoint-*/{MANIFEST}")
                      if "training-runs" in m.parts)

    def kubelet(job, cancelled):
        container = job["spec"]["template"]["spec"]["containers"][0]
        command = [*container["command"], *container["args"]]
        with open(tmp_path / "attempt-1.log", "w") as out:
            first = subprocess.Popen(command, cwd=ROOT, env=_pod_env(container, tmp_path / "node-1"),
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240
        while not uploaded() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.poll() is None, "the first attempt ended before it could be killed"
        # The whole pod at once: torchrun starts its workers in sessions of their own.
        pod = [psutil.Process(first.pid), *psutil.Process(first.pid).children(recursive=True)]
        for process in pod:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(pod, timeout=30)
        logs.append((tmp_path / "attempt-1.log").read_text())
        killed_after.extend(uploaded())
        assert killed_after, logs[0][-3000:]
        again = subprocess.run(command, cwd=ROOT, env=_pod_env(container, tmp_path / "node-2"),
                               capture_output=True, text=True, timeout=300)
        logs.append(again.stdout + again.stderr)
        return again.returncode, logs[-1]

    kube.kubelet = kubelet
    outcome = train_twin(store, recipe, tmp_path / "work", launcher="kubernetes",
                         job_launcher=_launcher(kube, timeout_s=400, poll_interval_s=0.2, log_tail_lines=20))

    assert "registered twin version" not in logs[0]  # the first attempt died before the end
    sft = ModelRegistry(store, TWIN_MODEL).card(outcome.version)["training"]["sft"]
    assert max(killed_after) < 12 and sft["resumed_from_step"] == max(killed_after), logs[1][-3000:]
    assert f"resuming from checkpoint-{sft['resumed_from_step']}" in logs[1]
    assert sft["steps"] == 12 and [step for step, _ in sft["loss_curve"]] == list(range(1, 13))


@pytest.mark.slow
def test_the_job_command_trains_and_registers_from_inside_the_pod(kube, tmp_path, tiny_model_dir):
    """The fake kubelet runs the container's real command line (torchrun, one process on CPU)."""
    store = _store_with_inputs(tmp_path, base_dir=tiny_model_dir, rows=16)
    scratch = tmp_path / "scratch"

    def kubelet(job, cancelled):
        container = job["spec"]["template"]["spec"]["containers"][0]
        done = subprocess.run([*container["command"], *container["args"]], cwd=ROOT, env=_pod_env(container, scratch),
                              capture_output=True, text=True, timeout=300)
        return done.returncode, done.stdout + done.stderr

    kube.kubelet = kubelet
    lines: list[str] = []
    outcome = train_twin(store, RECIPE, tmp_path / "work", launcher="kubernetes",
                         job_launcher=_launcher(kube, timeout_s=300, poll_interval_s=0.2, log_tail_lines=20), log=lines.append)

    twin = ModelRegistry(store, TWIN_MODEL)
    card = twin.card(outcome.version)
    assert outcome.version == "v1" and card["launcher"] == {"launcher": "kubernetes", "nproc": 1, "deepspeed": None, "world_size": 1}
    assert len(card["training"]["sft"]["loss_curve"]) == 2
    assert store.exists(f"models/{TWIN_MODEL}/v1/model/config.json") and store.exists(f"models/{TWIN_MODEL}/v1/adapter/adapter_config.json")
    assert any("registered twin version v1" in line for line in lines), "\n".join(lines[-12:])
    assert [p.name for p in (scratch).glob("run-*/train_config.json")] == ["train_config.json"]

    # The evaluation runs in a Job too (generation is GPU work); this side reads its summary.
    summary = evaluate_remotely(store, _launcher(kube, timeout_s=300, poll_interval_s=0.2, log_tail_lines=20),
                                embedding_model="all-MiniLM-L6-v2", embedding_backend="torch", max_new_tokens=4,
                                style_examples=1, log=lines.append)
    assert summary["version"] == "v1" and set(summary["results"]) == {"twin", "base"}
    assert twin.card("v1")["metrics"]["bits_per_byte"] == summary["results"]["twin"]["bits_per_byte"] > 0
    assert any("evaluated twin version v1" in line for line in lines), "\n".join(lines[-12:])
