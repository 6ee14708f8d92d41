"""Promotion rolls the model server: the ``deployment`` resources, the merge patch as a pure
function, and the real ``kubernetes`` client against ``FakeKubeAPI`` (tests/training/kube_api.py,
a loopback HTTP server: no cluster can run here)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.authors import materialize_author
from tests.training.kube_api import FakeKubeAPI
from twin_core.kube import (
    MODEL_VERSION_ANNOTATION,
    KubernetesError,
    model_version_patch,
    split_name,
)
from twin_core.object_store import LocalFolderStore
from twin_core.registry import PRODUCTION, twin_registry
from twin_core.training.pipeline import CANDIDATE
from twin_resources.deployment import (
    KubernetesModelDeploymentResource,
    LocalModelDeploymentResource,
)
from twin_resources.object_store import LocalObjectStoreResource

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    api = FakeKubeAPI()
    try:
        yield api
    finally:
        api.close()


def _model_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"model_type": "llama"}')
    return path


def test_model_version_patch_touches_one_pod_template_annotation():
    assert model_version_patch("v7") == {"spec": {"template": {"metadata": {"annotations": {"twin/model-version": "v7"}}}}}
    with pytest.raises(ValueError):
        model_version_patch("")
    assert split_name("twin-serving/tgi") == ("twin-serving", "tgi")
    for bad in ("tgi", "/tgi", "a/b/c", "ns/"):
        with pytest.raises(ValueError):
            split_name(bad)


def test_names_match_the_terraform_modules():
    serving = (ROOT / "infra/terraform/modules/serving/main.tf").read_text()
    assert f'annotations = {{ "{MODEL_VERSION_ANNOTATION}" = "production" }}' in serving
    main = (ROOT / "infra/terraform/environment/main.tf").read_text()
    assert re.search(r'^\s+TWIN_TGI_DEPLOYMENT\s+= "\$\{local.namespaces.serving\}/engine"', main, re.M)


def test_both_resource_sets_offer_the_same_resources():
    from twin_core.settings import Settings
    from twin_resources.sets import local_resources, prod_resources

    local, prod = local_resources(Settings()), prod_resources(Settings())
    assert set(local) == set(prod)
    assert isinstance(local["deployment"], LocalModelDeploymentResource)
    assert isinstance(prod["deployment"], KubernetesModelDeploymentResource)


def test_roll_patches_the_annotation_with_a_merge_patch(kube):
    kube.add_deployment("twin-serving", "tgi", {MODEL_VERSION_ANNOTATION: "production"})
    resource = KubernetesModelDeploymentResource(deployment="twin-serving/tgi", kube_api_url=kube.url)

    rolled = resource.roll("v3")
    assert rolled["deployment"] == "twin-serving/tgi" and rolled["version"] == "v3" and rolled["generation"] == 2
    patch = kube.requests("PATCH")[0]
    assert patch.path == "/apis/apps/v1/namespaces/twin-serving/deployments/tgi"
    assert patch.content_type == "application/merge-patch+json" and patch.body == model_version_patch("v3")
    template = kube.deployments[("twin-serving", "tgi")]["spec"]["template"]
    assert template["metadata"]["annotations"] == {MODEL_VERSION_ANNOTATION: "v3"}
    assert template["spec"]["containers"][0]["image"] == "tgi:3"  # the rest of the spec is kept

    assert resource.roll("v3")["generation"] == 2  # same version: no new rollout


def test_roll_errors_name_the_deployment(kube):
    kube.add_deployment("twin-serving", "tgi", {})
    kube.forbidden.add("/apis/apps/v1/namespaces/twin-serving/deployments/tgi")
    with pytest.raises(KubernetesError, match=r"cannot roll deployment twin-serving/tgi to v2: 403 Forbidden: tgi is forbidden"):
        KubernetesModelDeploymentResource(deployment="twin-serving/tgi", kube_api_url=kube.url).roll("v2")
    with pytest.raises(KubernetesError, match=r"twin-serving/other to v2: 404 Not Found"):
        KubernetesModelDeploymentResource(deployment="twin-serving/other", kube_api_url=kube.url).roll("v2")


def _evaluated_candidate(tmp_path: Path) -> LocalFolderStore:
    store = LocalFolderStore(tmp_path / "store")
    twin = twin_registry(store, "ann")
    version = twin.register(_model_folder(tmp_path / "m"), {"metrics": {"perplexity": 3.0, "style_similarity": 0.5}})
    twin.update_card(version, evaluation={"promotion": {"passed": True, "reasons": []}})
    twin.set_alias(CANDIDATE, version)
    return store


def test_production_model_rolls_tgi_after_moving_the_alias(kube, tmp_path):
    from twin_assets.training.assets import production_model

    store = _evaluated_candidate(tmp_path)
    kube.add_deployment("twin-serving", "tgi", {MODEL_VERSION_ANNOTATION: "production"})
    resources = {"object_store": LocalObjectStoreResource(root=str(tmp_path / "store")),
                 "deployment": KubernetesModelDeploymentResource(deployment="twin-serving/tgi", kube_api_url=kube.url)}
    result = materialize_author([production_model], resources=resources, author="ann")

    assert twin_registry(store, "ann").get_alias(PRODUCTION) == "v1"
    assert kube.deployments[("twin-serving", "tgi")]["spec"]["template"]["metadata"]["annotations"][MODEL_VERSION_ANNOTATION] == "ann/v1"
    rollout = result.asset_materializations_for_node("production_model")[0].metadata["rollout"].value
    assert rollout["target"] == "kubernetes" and rollout["generation"] == 2

    kube.forbidden.add("/apis/apps/v1/namespaces/twin-serving/deployments/tgi")
    failed = materialize_author([production_model], resources=resources, author="ann", raise_on_error=False)
    assert not failed.success
    assert "cannot roll deployment twin-serving/tgi to ann/v1: 403 Forbidden" in str(failed.failure_data_for_node("production_model").error)


def test_local_deployment_does_nothing_but_say_so():
    rolled = LocalModelDeploymentResource().roll("v2")
    assert rolled == {"target": "local", "version": "v2", "action": "twin serve-model reloads when the production alias changes"}
