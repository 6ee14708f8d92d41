"""Invariants of infra/terraform, checked on the parsed HCL (no terraform binary needed)."""

from __future__ import annotations

import math
import re

import hcl2
import pytest

from tests.infra.conftest import (
    ENV_DIRS,
    ENVIRONMENT,
    ENVIRONMENTS,
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
    sorted(TERRAFORM.rglob("*.tf")) + sorted(TERRAFORM.rglob("*.tfvars"))
    + sorted(TERRAFORM.rglob("*.tfbackend")),
    ids=lambda p: str(p.relative_to(TERRAFORM)),
)
def test_every_file_parses(path):
    with path.open() as handle:
        assert hcl2.load(handle) is not None


def test_no_exponent_literals_checkov_cannot_parse():
    """checkov's HCL parser rejects numbers such as 1e9 and then skips the whole module."""
    literal = re.compile(r"(?<![\w.$])\d+(\.\d+)?[eE][+-]?\d+(?![\w])")
    for path in sorted(TERRAFORM.rglob("*.tf")):
        code = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
        assert not literal.search(code), f"{path.relative_to(TERRAFORM)}: {literal.search(code).group()}"
    assert literal.search("x = 2 * 1e9") and not literal.search('name = "g5e1"')


def test_modules_follow_the_standard_layout():
    assert {p.name for p in MODULE_DIRS} == EXPECTED_MODULES
    for path in MODULE_DIRS:
        present = {p.name for p in path.iterdir()}
        missing = {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} - present
        assert not missing, f"{path.name} lacks {missing}"


def test_one_root_module_serves_every_environment():
    """Environments differ in variables and state only: one root, a tfvars and a backend config
    per environment, no copy of the root per environment."""
    roots = {p.parent for p in TERRAFORM.rglob("*.tf") if "modules" not in p.relative_to(TERRAFORM).parts}
    assert roots == set(ENV_DIRS)
    env = load_root(ENVIRONMENT)
    backend = env.files["backend.tf"]["terraform"][0]["backend"][0]["s3"]
    assert backend["use_lockfile"] is True and backend["encrypt"] is True
    assert "key" not in backend and "bucket" not in backend  # per environment, in its tfbackend
    required = {k for k, v in env.all("variable").items() if "default" not in v}
    keys = set()
    for name in ENVIRONMENTS:
        config = parse(ENVIRONMENT / f"{name}.s3.tfbackend")
        assert config["key"] == f"llm-twin/{name}/terraform.tfstate"
        assert set(config) == {"bucket", "key", "region"}
        keys.add(config["key"])
        tfvars = parse(ENVIRONMENT / f"{name}.tfvars")
        assert tfvars["environment"] == name
        # Every variable without a default is set in the example tfvars, and nothing unknown is.
        assert required <= set(tfvars), f"{name}.tfvars misses {required - set(tfvars)}"
        assert set(tfvars) <= set(env.all("variable")), f"{name}.tfvars sets unknown variables"
    assert len(keys) == len(ENVIRONMENTS)  # no two environments share a state


def test_a_mismatched_state_and_tfvars_pair_stops_the_plan():
    guard = load_root(ENVIRONMENT).all("resource")[("terraform_data", "environment")]
    assert guard["triggers_replace"] == "${var.environment}"
    assert guard["lifecycle"][0]["prevent_destroy"] is True


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
        if path in ENV_DIRS:
            assert spec["version"].startswith("~>"), f"{path.name} must pin {name} with ~>"
        else:
            assert "<" in spec["version"], f"{path.name}: {name} needs an upper bound"
    used = {rtype.split("_", 1)[0] for kind in ("resource", "data") for rtype, _ in root.all(kind)}
    used.discard("terraform")  # terraform_data is built in
    assert used <= set(declared), f"{path.name} uses undeclared providers {used - set(declared)}"


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
    for env in ENVIRONMENTS:
        tfvars = parse(ENVIRONMENT / f"{env}.tfvars")
        for group_cfg in tfvars["gpu_node_groups"].values():
            assert group_cfg.get("min_size", 0) == 0, env
    # The NVIDIA device plugin is installed onto those nodes.
    assert ("helm_release", "nvidia_device_plugin") in cluster.all("resource")


def test_autoscaling_bounds_are_variables(module):
    serving = module("serving").all("resource")
    scaler = serving[("kubernetes_manifest", "engine_scaler")]["manifest"]["spec"]
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
        ("serving", "engine"),
        ("serving", "serving_engine"),
        ("serving", "adapters"),
        ("serving", "tgi_image"),
        ("serving", "vllm_image"),
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
    main = load_root(ENVIRONMENT).files["main.tf"]
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


def test_one_engine_deployment_whichever_the_engine(module):
    """TGI and vLLM share the pod, its probes and its autoscaling; only image, arguments and
    environment are chosen by serving_engine."""
    serving = module("serving")
    resources = serving.all("resource")
    deployments = [name for (rtype, name) in resources if rtype == "kubernetes_deployment_v1"]
    assert sorted(deployments) == ["api", "engine"]
    deployment = resources[("kubernetes_deployment_v1", "engine")]
    assert "count" not in deployment and "for_each" not in deployment
    container = deployment["spec"][0]["template"][0]["spec"][0]["container"][0]
    assert container["image"] == "${local.engine_image}"
    assert (container["command"], container["args"]) == ("${local.engine_command}", "${local.engine_args}")
    for probe in ("startup_probe", "readiness_probe", "liveness_probe"):
        assert container[probe][0]["http_get"][0]["path"] == "/health", probe
    scaler = resources[("kubernetes_manifest", "engine_scaler")]["manifest"]["spec"]
    assert scaler["scaleTargetRef"]["name"] == "${kubernetes_deployment_v1.engine.metadata[0].name}"
    text = serving.text
    assert 'engine_image   = local.vllm ? var.vllm_image : var.tgi_image' in text
    assert 'vllm           = var.serving_engine == "vllm"' in text
    assert serving.all("variable")["serving_engine"]["default"] == "tgi"


def test_every_listed_author_is_served_as_their_own_adapter():
    """The environment turns twin_authors into the engine's adapters (twin-<slug> from the
    registry's models/twin/<slug>/, the layout training writes) and tells the API which adapter
    answers for which author, under the names the API and `twin serve-model` use."""
    from twin_core.authors import is_slug
    from twin_serving.model_source import adapter_name

    env = load_root(ENVIRONMENT)
    main = env.files["main.tf"]
    local = {k: v for block in main["locals"] for k, v in block.items()}
    assert local["twin_adapters"] == '${{for slug in var.twin_authors : "twin-${slug}" => "twin/${slug}"}}'
    assert local["engine_adapters"] == '${{for slug in var.twin_authors : slug => "twin-${slug}"}}'
    assert local["app_config"]["TWIN_ENGINE_ADAPTERS"] == "${jsonencode(local.engine_adapters)}"
    serving = [b for b in main["module"] if "serving" in b][0]["serving"]
    assert serving["adapters"] == "${local.twin_adapters}"
    assert adapter_name("tamsin-vale") == "twin-tamsin-vale"  # the name the expression builds
    slug_rule = re.search(r'regex\("(.+?)", slug\)',
                          env.all("variable")["twin_authors"]["validation"][0]["condition"]).group(1)
    for name in ENVIRONMENTS:
        authors = parse(ENVIRONMENT / f"{name}.tfvars")["twin_authors"]
        assert authors and all(is_slug(a) and re.fullmatch(slug_rule, a) for a in authors)


def test_both_engines_serve_the_lora_adapters(module):
    text = module("serving").text
    assert 'adapter_specs = [for id in sort(keys(var.adapters)) : "${id}=${local.adapters_dir}/${id}"]' in text
    # TGI: LORA_ADAPTERS=id=/data/adapters/id,...; requests pick one with adapter_id / model.
    assert 'var.serve_adapters ? { LORA_ADAPTERS = join(",", local.adapter_specs) } : {}' in text
    # vLLM: --enable-lora, every adapter resident, --lora-modules id=/data/adapters/id ...
    assert re.search(r'\["--enable-lora", "--max-loras", tostring\(length\(var.adapters\)\),\s+'
                     r'"--max-lora-rank", tostring\(var.engine.max_lora_rank\), "--lora-modules"\],\s+'
                     r"local.adapter_specs,", text)
    assert '"--max-model-len", tostring(var.engine.max_total_tokens)' in text
    assert '"--tensor-parallel-size", tostring(var.engine.gpus)' in text
    assert "MAX_INPUT_TOKENS = tostring(var.engine.max_input_tokens)" in text
    variables = module("serving").all("variable")
    assert "default" not in variables["adapters"]  # the environment names one per author
    assert variables["serve_adapters"]["default"] is True
    for field in ("max_input_tokens", "max_total_tokens", "quantize", "max_lora_rank"):
        assert field in variables["engine"]["type"]
    # Quantization is validated in the chosen engine's own terms.
    quantize = variables["engine"]["validation"][1]["condition"]
    assert 'var.serving_engine == "vllm"' in quantize and '"bitsandbytes-nf4"' in quantize


def test_the_engine_loads_the_production_adapters_from_the_registry(module):
    serving = module("serving")
    deployment = serving.all("resource")[("kubernetes_deployment_v1", "engine")]
    pod = deployment["spec"][0]["template"][0]["spec"][0]
    init = pod["init_container"][0]
    assert init["command"] == ["python", "-c", '${file("${path.module}/fetch_models.py")}']
    assert init["image"] == "${var.api_image}"  # its Python and boto3, already pinned
    assert (MODULES / "serving" / "fetch_models.py").is_file()
    text = serving.text
    assert "ADAPTERS       = jsonencode(var.adapters)" in text
    assert 'SERVE_ADAPTERS = var.serve_adapters ? "1" : "0"' in text
    ignored = deployment["lifecycle"][0]["ignore_changes"]
    assert '${spec[0].template[0].metadata[0].annotations["twin/model-version"]}' in ignored
    # Promotion may patch this one deployment only.
    role = serving.all("resource")[("kubernetes_role_v1", "rollout")]["rule"][0]
    assert role["verbs"] == ["get", "patch"] and role["resource_names"]
    # Each environment picks an engine the module accepts.
    for env in ENVIRONMENTS:
        tfvars = parse(ENVIRONMENT / f"{env}.tfvars")
        assert tfvars.get("serving_engine", "tgi") in ("tgi", "vllm")


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


def test_dagster_helm_run_monitoring_is_the_prod_instance_config(module):
    """Dead run pods are resumed once, then failed, and free their slots: the chart's values say
    the same as infra/dagster/dagster.prod.yaml, key for key."""
    import yaml

    block = re.search(r"runMonitoring = \{(.*?)\n\s*\}", module("dagster").text, re.S).group(1)
    helm = {re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower(): value
            for key, value in re.findall(r"(\w+)\s*=\s*(\w+)", block)}
    prod = yaml.safe_load((TERRAFORM.parent / "dagster" / "dagster.prod.yaml").read_text())["run_monitoring"]
    assert {k: str(v).lower() for k, v in prod.items()} == helm
    assert prod["max_resume_run_attempts"] >= 1  # the Kubernetes launcher can resume a run


def test_training_job_runs_deepspeed_entry_point_on_gpus(module):
    training = module("training")
    assert '"-m", "twin_core.training"' in training.text
    assert '"nvidia.com/gpu" = tostring(var.gpus_per_job)' in training.text
    quota = training.all("resource")[("kubernetes_resource_quota_v1", "gpus")]
    assert quota["spec"][0]["hard"]["requests.nvidia.com/gpu"] == "${tostring(var.max_gpus)}"


def test_a_failed_training_pod_is_retried_and_a_lost_node_is_not_a_try(module):
    training = module("training")
    text = training.text
    assert "backoffLimit = var.max_retries" in text
    variable = training.all("variable")["max_retries"]
    assert variable["default"] >= 1 and "var.max_retries >= 1" in variable["validation"][0]["condition"]
    assert 'rules = [{ action = "Ignore", onPodConditions = [{ type = "DisruptionTarget" }] }]' in text
    assert 'restartPolicy                = "Never"' in text  # podFailurePolicy requires it


def _scratch_gib(params_billion: float) -> int:
    """The training module's scratch arithmetic (locals), in Python."""
    bf16_gib = math.ceil(params_billion * 2 * 1e9 / 2**30)
    return 2 * bf16_gib + math.ceil(2 * bf16_gib / 10) + 20


def test_training_scratch_holds_the_bf16_base_and_export(module):
    text = module("training").text
    assert "bf16_gib    = ceil(var.max_model_params_billion * 2000000000 / 1073741824)" in text
    assert "scratch_gib = 2 * local.bf16_gib + ceil(2 * local.bf16_gib / 10) + 20" in text
    assert 'emptyDir = { sizeLimit = "${local.scratch_gib}Gi" }' in text
    assert '"ephemeral-storage" = local.ephemeral' in text
    assert _scratch_gib(70) == 309 and _scratch_gib(8) == 53
    # 70B in bf16 (base + merged export) fits, with room for checkpoints; an fp32 export would
    # not fit the old fixed 150 GiB, nor does bf16 base + export.
    assert _scratch_gib(70) > 2 * 70e9 * 2 / 2**30 * 1.05
    assert module("training").all("variable")["max_model_params_billion"]["default"] == 70
    # Each environment has a GPU node group whose disk holds a Job of its largest model, and the
    # root refuses to plan otherwise.
    default_disk = 200
    for env in ENVIRONMENTS:
        tfvars = parse(ENVIRONMENT / f"{env}.tfvars")
        need = _scratch_gib(tfvars["training_max_model_params_billion"]) + 10 + 60
        disks = [g.get("disk_size", default_disk) for g in tfvars["gpu_node_groups"].values()]
        assert max(disks) >= need, (env, need, disks)
    guard = load_root(ENVIRONMENT).all("resource")[("terraform_data", "training_fits_a_gpu_node")]
    condition = guard["lifecycle"][0]["precondition"][0]["condition"]
    assert "group.disk_size >= module.training.node_disk_gib" in condition
    assert "local.scratch_gib + local.tmp_gib + 60" in (MODULES / "training" / "outputs.tf").read_text()


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
