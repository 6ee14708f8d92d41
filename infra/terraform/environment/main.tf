# One environment of LLM Twin; the same root for every environment, chosen by the pair
# <env>.s3.tfbackend (its state) and <env>.tfvars (its sizes). Apply order inside it: storage ->
# network -> iam -> cluster, then the workloads (see infra/terraform/README.md for the two-step
# first apply).

locals {
  name = "llm-twin-${var.environment}"
  tags = merge(var.tags, { Project = "llm-twin", Environment = var.environment, ManagedBy = "terraform" })

  namespaces = { dagster = "dagster", serving = "twin-serving", training = "twin-training" }

  # The engine (TGI or vLLM) behind the KEDA interceptor; the applications read it as TGI_URL.
  engine_url = "http://engine.${local.namespaces.serving}.svc.cluster.local:8080"

  # Non-secret environment of every LLM Twin container; secrets come from twin-secrets.
  # TWIN_TRAINER_*: a training run submits a GPU Job from the training module's template (whose
  # GPU count is training_gpus_per_job); the Job itself works in its scratch volume.
  app_config = {
    TWIN_ENV                = "prod"
    TWIN_S3_BUCKET          = module.storage.bucket_names["data"]
    TWIN_S3_PREFIX          = var.data_prefix
    TWIN_S3_ENDPOINT_URL    = ""
    TWIN_MILVUS_URI         = module.milvus.uri
    TGI_URL                 = local.engine_url
    LANGFUSE_HOST           = var.langfuse_host
    TWIN_TGI_DEPLOYMENT     = "${local.namespaces.serving}/engine"
    TWIN_TRAINING_NAMESPACE = local.namespaces.training
    TWIN_TRAINER_LAUNCHER   = "kubernetes"
    TWIN_TRAINER_NPROC      = tostring(var.training_gpus_per_job)
    TWIN_TRAINER_DEEPSPEED  = var.training_deepspeed
    TWIN_TRAINER_WORK_DIR   = "/tmp/twin"
    AWS_REGION              = var.region
    # Which adapter answers for which author (the API sends it as the engine's model name).
    TWIN_ENGINE_ADAPTERS = jsonencode(local.engine_adapters)
  }
  # One adapter per author on the shared base: twin-<slug> from the registry's models/twin/<slug>/.
  twin_adapters   = { for slug in var.twin_authors : "twin-${slug}" => "twin/${slug}" }
  engine_adapters = { for slug in var.twin_authors : slug => "twin-${slug}" }
}

# The environment's name is pinned in its state: planning one environment's tfvars against
# another's state (a mismatched -backend-config/-var-file pair) would replace this, and
# prevent_destroy stops the plan before anything is touched. To tear an environment down, run
# `terraform state rm terraform_data.environment` first.
resource "terraform_data" "environment" {
  triggers_replace = var.environment

  lifecycle {
    prevent_destroy = true
  }
}

module "storage" {
  source        = "../modules/storage"
  name          = local.name
  force_destroy = var.force_destroy_buckets
  buckets = {
    data = {
      purpose                 = "warehouse, datasets and model registry"
      noncurrent_version_days = var.noncurrent_version_days
      expire_prefixes         = { "${var.data_prefix}checkpoints/" = 14 }
    }
    milvus = {
      purpose                 = "milvus segments"
      noncurrent_version_days = 7
    }
  }
  tags = local.tags
}

module "network" {
  source              = "../modules/network"
  name                = local.name
  cidr_block          = var.vpc_cidr
  az_count            = var.az_count
  single_nat_gateway  = var.single_nat_gateway
  flow_log_bucket_arn = module.storage.log_bucket_arn
  tags                = local.tags
}

module "iam" {
  source            = "../modules/iam"
  name              = local.name
  data_bucket_arn   = module.storage.bucket_arns["data"]
  data_prefix       = var.data_prefix
  milvus_bucket_arn = module.storage.bucket_arns["milvus"]
  kms_key_arn       = module.storage.kms_key_arn
  tags              = local.tags
}

module "cluster" {
  source                       = "../modules/cluster"
  name                         = local.name
  kubernetes_version           = var.kubernetes_version
  subnet_ids                   = module.network.private_subnet_ids
  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  kms_key_arn                  = module.storage.kms_key_arn
  system_node_group            = var.system_node_group
  gpu_node_groups              = var.gpu_node_groups
  secrets_role_arn             = module.iam.role_arns["secrets"]
  tags                         = local.tags
}

module "milvus" {
  source       = "../modules/milvus"
  managed_uri  = var.milvus_managed_uri
  cluster_name = module.cluster.cluster_name
  role_arn     = module.iam.role_arns["milvus"]
  bucket_name  = module.storage.bucket_names["milvus"]
  cluster_mode = var.milvus_cluster_mode
}

module "dagster" {
  source                      = "../modules/dagster"
  name                        = local.name
  namespace                   = local.namespaces.dagster
  cluster_name                = module.cluster.cluster_name
  cluster_security_group_id   = module.cluster.cluster_security_group_id
  vpc_id                      = module.network.vpc_id
  subnet_ids                  = module.network.private_subnet_ids
  kms_key_arn                 = module.storage.kms_key_arn
  role_arn                    = module.iam.role_arns["dagster"]
  secrets_role_name           = module.iam.role_names["secrets"]
  secret_store_name           = module.cluster.secret_store_name
  app_secret_name             = module.iam.app_secret_name
  app_config                  = local.app_config
  compute_log_bucket          = module.storage.bucket_names["data"]
  compute_log_prefix          = var.data_prefix
  user_code_image             = var.user_code_image
  training_concurrency_limit  = var.training_concurrency_limit
  db_instance_class           = var.db_instance_class
  db_multi_az                 = var.db_multi_az
  db_deletion_protection      = var.db_deletion_protection
  tags                        = local.tags
}

module "serving" {
  source                     = "../modules/serving"
  namespace                  = local.namespaces.serving
  cluster_name               = module.cluster.cluster_name
  role_arn                   = module.iam.role_arns["serving"]
  app_config                 = local.app_config
  secret_store_name          = module.cluster.secret_store_name
  app_secret_name            = module.iam.app_secret_name
  model_bucket               = module.storage.bucket_names["data"]
  model_prefix               = var.data_prefix
  api_image                  = var.api_image
  serving_engine             = var.serving_engine
  adapters                   = local.twin_adapters
  serve_adapters             = var.serve_adapters
  engine                     = var.engine
  scale_to_zero              = var.engine_scale_to_zero
  min_replicas               = var.engine_min_replicas
  max_replicas               = var.engine_max_replicas
  target_concurrent_requests = var.engine_target_concurrent_requests
  gpu_node_selector          = module.cluster.gpu_node_selector
  gpu_tolerations            = module.cluster.gpu_tolerations
  rollout_service_account    = { name = module.dagster.service_account, namespace = module.dagster.namespace }
}

module "training" {
  source                   = "../modules/training"
  namespace                = local.namespaces.training
  cluster_name             = module.cluster.cluster_name
  role_arn                 = module.iam.role_arns["training"]
  app_config               = local.app_config
  secret_store_name        = module.cluster.secret_store_name
  app_secret_name          = module.iam.app_secret_name
  image                    = var.training_image
  gpus_per_job             = var.training_gpus_per_job
  max_gpus                 = var.training_max_gpus
  max_model_params_billion = var.training_max_model_params_billion
  gpu_node_selector        = module.cluster.gpu_node_selector
  gpu_tolerations          = module.cluster.gpu_tolerations
  launcher_service_account = { name = module.dagster.service_account, namespace = module.dagster.namespace }
}

# A training Job asks for its scratch as ephemeral storage; without a GPU node group whose disk
# holds it, the Job would stay Pending until its deadline. Fail the plan instead.
resource "terraform_data" "training_fits_a_gpu_node" {
  input = module.training.node_disk_gib

  lifecycle {
    precondition {
      condition     = anytrue([for group in values(var.gpu_node_groups) : group.disk_size >= module.training.node_disk_gib])
      error_message = "No GPU node group has the ${module.training.node_disk_gib} GiB of disk a training Job for ${var.training_max_model_params_billion}B parameters needs: raise disk_size of the GPU node group that trains."
    }
  }
}
