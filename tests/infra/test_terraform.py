"""Invariants of infra/terraform, checked on the parsed HCL (no terraform binary needed)."""

from __future__ import annotations

import re

import hcl2
import pytest

from tests.infra.conftest import (
    ENV_DIRS,
    MODULE_DIRS,
    MODULES,
    ROOT_DIRS,
    TERRAFORM,
    load_root,
    parse,
    unquote,
)

EXPECTED_MODULES = {
    "network",
    "storage",
    "iam",
    "cluster",
    "dagster",
    "milvus",
    "serving",
    "training",
    "app_env",
}
SECRET_KEYS = {
    "TWIN_MILVUS_TOKEN",
    "TWIN_API_KEY",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "GITHUB_TOKEN",
}
ENDPOINT_KEYS = {
    "TWIN_ENV",
    "TWIN_S3_BUCKET",
    "TWIN_S3_PREFIX",
    "TWIN_S3_ENDPOINT_URL",
    "TWIN_MILVUS_URI",
    "TGI_URL",
    "LANGFUSE_HOST",
}

ACCOUNT_ID = re.compile(r"(?<![\d.])\d{12}(?![\d.])")
REGION = re.compile(
    r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:gov-)?(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d\b"
)


def _id(path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize(
    "path",
    sorted(TERRAFORM.rglob("*.tf")) + sorted(TERRAFORM.rglob("*.tfvars")),
    ids=lambda p: str(p.relative_to(TERRAFORM)),
)
def test_every_file_parses(path):
    with path.open() as handle:
        assert hcl2.load(handle) is not None


def test_modules_follow_the_standard_layout():
    assert {p.name for p in MODULE_DIRS} == EXPECTED_MODULES
    for path in MODULE_DIRS:
        present = {p.name for p in path.iterdir()}
        missing = {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} - present
        assert not missing, f"{path.name} lacks {missing}"


def test_environments_have_backend_pins_and_example_tfvars():
    assert {p.name for p in ENV_DIRS} == {"bootstrap", "dev", "prod"}
    for name in ("dev", "prod"):
        env = load_root(TERRAFORM / "envs" / name)
        backend = env.files["backend.tf"]["terraform"][0]["backend"][0]["s3"]
        assert backend["use_lockfile"] is True and backend["encrypt"] is True
        assert backend["key"] == f"llm-twin/{name}/terraform.tfstate"
        assert (env.path / f"{name}.tfvars").is_file()
        # Every variable without a default is set in the example tfvars.
        tfvars = parse(env.path / f"{name}.tfvars")
        required = {k for k, v in env.all("variable").items() if "default" not in v}
        assert required <= set(tfvars), f"{name}.tfvars misses {required - set(tfvars)}"


@pytest.mark.parametrize("path", ROOT_DIRS, ids=_id)
def test_variables_are_typed_and_described(path):
    variables = load_root(path).all("variable")
    assert variables
    for name, body in variables.items():
        assert body.get("type"), f"{path.name}: variable {name} has no type"
        assert len(body.get("description", "")) > 10, (
            f"{path.name}: variable {name} has no description"
        )


@pytest.mark.parametrize("path", ROOT_DIRS, ids=_id)
def test_outputs_are_described(path):
    for name, body in load_root(path).all("output").items():
        assert len(body.get("description", "")) > 5, (
            f"{path.name}: output {name} has no description"
        )


@pytest.mark.parametrize("path", ROOT_DIRS, ids=_id)
def test_providers_are_pinned_and_declared(path):
    root = load_root(path)
    terraform = root.files["versions.tf"]["terraform"][0]
    assert terraform["required_version"].startswith((">=", "~>"))
    declared = {}
    for block in terraform["required_providers"]:
        declared.update(block)
    for name, spec in declared.items():
        assert spec["source"] == f"hashicorp/{name}"
        assert re.search(r"\d", spec["version"]), f"{name} has no version constraint"
        if path.parent.name == "envs":
            assert spec["version"].startswith("~>"), f"{path.name} must pin {name} with ~>"
        else:
            assert "<" in spec["version"], f"{path.name}: {name} needs an upper bound"
    used = {rtype.split("_", 1)[0] for kind in ("resource", "data") for rtype, _ in root.all(kind)}
    assert used <= set(declared), f"{path.name} uses undeclared providers {used - set(declared)}"


def test_envs_pin_the_same_versions():
    dev = (TERRAFORM / "envs/dev/versions.tf").read_text()
    assert dev == (TERRAFORM / "envs/prod/versions.tf").read_text()
    assert (TERRAFORM / "envs/dev/main.tf").read_text() == (
        TERRAFORM / "envs/prod/main.tf"
    ).read_text()


@pytest.mark.parametrize("path", MODULE_DIRS, ids=_id)
def test_no_hard_coded_account_ids_or_regions_in_modules(path):
    text = "\n".join(p.read_text() for p in sorted(path.iterdir()) if p.suffix == ".tf")
    assert not ACCOUNT_ID.findall(text), f"{path.name}: account id literal"
    assert not REGION.findall(text), f"{path.name}: region literal {REGION.findall(text)}"


def test_hard_coded_value_detectors_work():
    assert ACCOUNT_ID.search("arn:aws:iam::123456789012:root")
    assert not ACCOUNT_ID.search("version 1.13.27")
    assert REGION.search('region = "eu-west-1"') and REGION.search("us-gov-west-1")
    assert not REGION.search("s3.${data.aws_region.current.region}.amazonaws.com")


def test_buckets_are_only_created_by_storage():
    for path in ROOT_DIRS:
        if path.name != "storage":
            assert not [
                r for r in load_root(path).all("resource") if r[0].startswith("aws_s3_bucket")
            ], path.name


def test_data_buckets_use_kms_versioning_and_logging(module):
    res = module("storage").all("resource")
    sse = res[("aws_s3_bucket_server_side_encryption_configuration", "this")]["rule"][0]
    default = sse["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == "aws:kms"
    assert default["kms_master_key_id"] == "${aws_kms_key.this.arn}"
    assert res[("aws_kms_key", "this")]["enable_key_rotation"] is True
    for name in ("this", "logs"):
        status = res[("aws_s3_bucket_versioning", name)]["versioning_configuration"][0]["status"]
        assert status == "Enabled"
    assert res[("aws_s3_bucket_logging", "this")]["target_bucket"] == "${aws_s3_bucket.logs.id}"
    lifecycle = res[("aws_s3_bucket_lifecycle_configuration", "this")]["rule"][0]
    assert (
        lifecycle["abort_incomplete_multipart_upload"]
        and lifecycle["noncurrent_version_expiration"]
    )


def test_buckets_are_private(module):
    res = module("storage").all("resource")
    for name in ("this", "logs"):
        block = res[("aws_s3_bucket_public_access_block", name)]
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ):
            assert block[flag] is True, f"{name}.{flag}"
        ownership = res[("aws_s3_bucket_ownership_controls", name)]["rule"][0]["object_ownership"]
        assert ownership == "BucketOwnerEnforced"
    # Every bucket policy denies plain HTTP.
    policies = module("storage").all("data")
    for name in ("bucket", "logs"):
        statements = policies[("aws_iam_policy_document", name)]["statement"]
        deny = [s for s in statements if s.get("effect") == "Deny"]
        assert deny and deny[0]["condition"][0]["variable"] == "aws:SecureTransport"


def test_gpu_node_groups_scale_to_zero(module):
    cluster = module("cluster")
    variable = cluster.all("variable")["gpu_node_groups"]
    assert "min_size = optional(number, 0)" in variable["type"]
    assert variable["default"] and all("min_size" not in g for g in variable["default"].values())
    group = cluster.all("resource")[("aws_eks_node_group", "gpu")]
    scaling = group["scaling_config"][0]
    assert (
        scaling["min_size"] == "${each.value.min_size}"
        and scaling["max_size"] == "${each.value.max_size}"
    )
    assert "${scaling_config[0].desired_size}" in group["lifecycle"][0]["ignore_changes"]
    assert group["taint"][0]["effect"] == "NO_SCHEDULE"
    assert group["ami_type"] == "AL2023_x86_64_NVIDIA"
    # Validation accepts min_size 0 and enforces min <= max.
    conditions = " ".join(v["condition"] for v in variable["validation"])
    assert "g.min_size >= 0 && g.min_size <= g.max_size" in conditions
    # No environment pins a GPU group above zero.
    for env in ("dev", "prod"):
        tfvars = parse(TERRAFORM / "envs" / env / f"{env}.tfvars")
        for group_cfg in tfvars["gpu_node_groups"].values():
            assert group_cfg.get("min_size", 0) == 0, env
    # The NVIDIA device plugin is installed onto those nodes.
    assert ("helm_release", "nvidia_device_plugin") in cluster.all("resource")


def test_autoscaling_bounds_are_variables(module):
    serving = module("serving").all("resource")
    scaler = serving[("kubernetes_manifest", "tgi_scaler")]["manifest"]["spec"]
    assert scaler["replicas"] == {
        "min": "${var.scale_to_zero ? 0 : var.min_replicas}",
        "max": "${var.max_replicas}",
    }
    hpa = serving[("kubernetes_horizontal_pod_autoscaler_v2", "api")]["spec"][0]
    assert (hpa["min_replicas"], hpa["max_replicas"]) == (
        "${var.api_min_replicas}",
        "${var.api_max_replicas}",
    )
    system = module("cluster").all("resource")[("aws_eks_node_group", "system")]["scaling_config"][
        0
    ]
    assert system["max_size"] == "${var.system_node_group.max_size}"
    # ...and their min <= max is validated.
    variables = module("serving").all("variable")
    assert any(
        "var.max_replicas >= var.min_replicas" in v["condition"]
        for v in variables["max_replicas"]["validation"]
    )
    assert any(
        "var.api_max_replicas >= var.api_min_replicas" in v["condition"]
        for v in variables["api_max_replicas"]["validation"]
    )


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("cluster", "system_node_group"),
        ("cluster", "gpu_node_groups"),
        ("cluster", "kubernetes_version"),
        ("dagster", "db_instance_class"),
        ("dagster", "user_code_image"),
        ("serving", "tgi"),
        ("serving", "tgi_image"),
        ("serving", "min_replicas"),
        ("training", "gpus_per_job"),
        ("training", "image"),
        ("network", "cidr_block"),
    ],
)
def test_plausible_mistakes_are_validated(module, name, variable):
    assert module(name).all("variable")[variable].get("validation"), f"{name}.{variable}"


def test_instance_type_validations_reject_bad_values(module):
    """Evaluate the regexes of the instance-type validations in Python on good and bad values."""
    cluster = module("cluster").all("variable")
    gpu_regex = re.search(
        r'regex\("(.+?)", t\)', cluster["gpu_node_groups"]["validation"][0]["condition"]
    ).group(1)
    gpu = re.compile(gpu_regex.replace("\\\\", "\\"))
    assert gpu.match("g5.2xlarge") and gpu.match("p4d.24xlarge") and gpu.match("g6e.xlarge")
    assert not gpu.match("m6i.xlarge") and not gpu.match("g5")
    cpu_regex = re.search(
        r'regex\("(.+?)", t\)', cluster["system_node_group"]["validation"][0]["condition"]
    ).group(1)
    cpu = re.compile(cpu_regex.replace("\\\\", "\\"))
    assert cpu.match("m6i.xlarge") and cpu.match("t3.medium")
    assert not cpu.match("m6i") and not cpu.match("xlarge")


def test_secrets_come_from_secrets_manager_never_plain_env(module):
    env = load_root(TERRAFORM / "envs/prod")
    main = env.files["main.tf"]
    app_config = [b for b in main["locals"] if "app_config" in b][0]["app_config"]
    assert set(app_config) >= ENDPOINT_KEYS
    assert app_config["TWIN_ENV"] == "prod"
    assert not SECRET_KEYS & set(app_config)
    # The application secret is created without a value: no secret_string anywhere.
    for path in ROOT_DIRS:
        assert ("aws_secretsmanager_secret_version", "app") not in load_root(path).all("resource")
        assert "secret_string" not in load_root(path).text
    assert set(module("iam").all("variable")["app_secret_keys"]["default"]) == SECRET_KEYS
    # Containers read secrets with envFrom; no env entry carries a secret name.
    for name in ("serving", "training", "dagster"):
        text = module(name).text
        for key in SECRET_KEYS:
            assert key not in text, f"{key} appears in {name}"
    api = module("serving").all("resource")[("kubernetes_deployment_v1", "api")]
    container = api["spec"][0]["template"][0]["spec"][0]["container"][0]
    assert any("secret_ref" in e for e in container["env_from"])
    # The database password is managed by RDS in Secrets Manager.
    db = module("dagster").all("resource")[("aws_db_instance", "this")]
    assert db["manage_master_user_password"] is True and "password" not in db


SECRET_NAME = re.compile(r"password|secret|api_key|private_key|access_key|(^|_)token$")


@pytest.mark.parametrize("path", sorted(TERRAFORM.rglob("*.tfvars")), ids=lambda p: p.name)
def test_tfvars_hold_no_secrets(path):
    def keys(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                yield key
                yield from keys(inner)

    names = list(keys(parse(path)))
    assert names
    assert not [k for k in names if SECRET_NAME.search(k.lower())], path.name
    assert not re.search(r"AKIA[0-9A-Z]{16}", path.read_text()), "AWS access key id in tfvars"


def test_secret_name_detector_works():
    assert SECRET_NAME.search("db_password") and SECRET_NAME.search("github_token")
    assert not SECRET_NAME.search("max_input_tokens")


def test_tgi_loads_the_registry_production_model(module):
    serving = module("serving")
    text = serving.text
    assert '/aliases/production"' in text and '/$version/model/" /data/model/' in text
    assert (
        'models_root = "s3://${var.model_bucket}/${var.model_prefix}models/${var.model_name}"'
        in text
    )
    deployment = serving.all("resource")[("kubernetes_deployment_v1", "tgi")]
    ignored = deployment["lifecycle"][0]["ignore_changes"]
    assert '${spec[0].template[0].metadata[0].annotations["twin/model-version"]}' in ignored
    tgi = serving.all("variable")["tgi"]
    for field in ("max_input_tokens", "max_total_tokens", "quantize"):
        assert field in tgi["type"]
    assert "MAX_INPUT_TOKENS = tostring(var.tgi.max_input_tokens)" in text
    # Promotion may patch this one deployment only.
    role = serving.all("resource")[("kubernetes_role_v1", "rollout")]["rule"][0]
    assert role["verbs"] == ["get", "patch"] and role["resource_names"]


def test_dagster_limits_concurrent_training_runs(module):
    dagster = module("dagster")
    assert (
        '{ key = "twin/compute", value = "training", limit = var.training_concurrency_limit }'
        in dagster.text
    )
    assert (
        'type = "K8sRunLauncher"' in dagster.text
        and 'type    = "QueuedRunCoordinator"' in dagster.text
    )
    assert '"--module-name", "twin_assets.definitions"' in dagster.text
    db = dagster.all("resource")[("aws_db_instance", "this")]
    assert db["storage_encrypted"] is True and db["publicly_accessible"] is False


def test_training_job_runs_deepspeed_entry_point_on_gpus(module):
    training = module("training")
    assert '"-m", "twin_core.training.run"' in training.text
    assert '"nvidia.com/gpu" = tostring(var.gpus_per_job)' in training.text
    quota = training.all("resource")[("kubernetes_resource_quota_v1", "gpus")]
    assert quota["spec"][0]["hard"]["requests.nvidia.com/gpu"] == "${tostring(var.max_gpus)}"


def test_workload_roles_are_scoped_to_their_prefixes(module):
    docs = module("iam").all("data")
    serving = docs[("aws_iam_policy_document", "serving")]["statement"]
    actions = {a for s in serving for a in s["actions"]}
    assert actions == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    assert [s["resources"] for s in serving if s["sid"] == "ReadModels"] == [["${local.models}"]]
    training_writes = [
        s
        for s in docs[("aws_iam_policy_document", "training")]["statement"]
        if "s3:PutObject" in s["actions"]
    ]
    assert [s["resources"] for s in training_writes] == [["${local.models}"]]
    for body in (d for (t, _), d in docs.items() if t == "aws_iam_policy_document"):
        for statement in body["statement"]:
            assert "*" not in statement["actions"] and "s3:*" not in statement["actions"]


def test_unquote_strips_hcl_string_quotes():
    assert unquote({'"a"': ['"b"', 1, True]}) == {"a": ["b", 1, True]}
    assert MODULES.is_dir()
