# How a DeepSpeed fine-tuning run leaves the Dagster run pod: the training asset (a CPU run pod,
# tagged twin/compute=training) creates a Kubernetes Job from the template below in this
# namespace, waits for it and reads the result from the model registry. The Job lands on a GPU
# node (scaled up from zero by the cluster autoscaler) and runs
#   torchrun --nproc-per-node <gpus> -m twin_core.training --config '<run as JSON>'
# which fetches the base model and dataset from S3, trains with the DeepSpeed config the run
# names and registers the new version under models/ (twin_core/training/kubernetes.py, remote.py).

locals {
  labels = { "app.kubernetes.io/name" = "twin-training", "app.kubernetes.io/part-of" = "llm-twin" }

  # Scratch holds the base in bf16 (2 bytes a parameter, staged once per node) and the merged
  # export in the same dtype, plus 10% of both for checkpoints (adapter, optimizer and scheduler
  # state, at most save_total_limit of them) and 20 GiB for datasets, tokenizer, DeepSpeed's
  # compiled ops and the Hugging Face cache. 70B: 2 x 131 GiB x 1.1 + 20 = 309 GiB (an fp32
  # export alone would be 261 GiB).
  bf16_gib    = ceil(var.max_model_params_billion * 2000000000 / 1073741824)
  scratch_gib = 2 * local.bf16_gib + ceil(2 * local.bf16_gib / 10) + 20
  tmp_gib     = 10
  # What the pod may write to the node's disk; the scheduler places the Job only on a node that
  # has it free.
  ephemeral = "${local.scratch_gib + local.tmp_gib}Gi"

  job_template = {
    apiVersion = "batch/v1"
    kind       = "Job"
    metadata = {
      generateName = "twin-training-"
      namespace    = module.env.namespace
      labels       = local.labels
    }
    spec = {
      # A failed pod is retried (the run resumes from its newest checkpoint on the object store);
      # a pod lost with its node (spot reclaim, drain, node failure) does not count as a try.
      # activeDeadlineSeconds bounds all tries together.
      backoffLimit = var.max_retries
      podFailurePolicy = {
        rules = [{ action = "Ignore", onPodConditions = [{ type = "DisruptionTarget" }] }]
      }
      activeDeadlineSeconds   = var.max_runtime_seconds
      ttlSecondsAfterFinished = 86400
      template = {
        metadata = { labels = local.labels }
        spec = {
          restartPolicy                = "Never"
          serviceAccountName           = kubernetes_service_account_v1.trainer.metadata[0].name
          automountServiceAccountToken = false
          nodeSelector                 = var.gpu_node_selector
          tolerations                  = var.gpu_tolerations
          securityContext = {
            runAsNonRoot   = true
            runAsUser      = 10001
            runAsGroup     = 10001
            fsGroup        = 10001
            seccompProfile = { type = "RuntimeDefault" }
          }
          containers = [{
            name    = "train"
            image   = var.image
            command = ["torchrun", "--nproc-per-node", tostring(var.gpus_per_job), "-m", "twin_core.training"]
            # The launcher appends the run, inline: ["--config", "{\"kind\": \"twin/remote-training\", ...}"].
            args    = []
            envFrom = [
              { configMapRef = { name = module.env.config_map_name } },
              { secretRef = { name = module.env.secret_name } },
            ]
            env = [
              { name = "NCCL_DEBUG", value = "WARN" },
              { name = "HF_HOME", value = "/scratch/hf" },
              # Where the run stages the base model and datasets and writes its outputs.
              { name = "TWIN_TRAINER_WORK_DIR", value = "/scratch/work" },
            ]
            resources = {
              requests = { cpu = var.cpu, memory = var.memory, "nvidia.com/gpu" = tostring(var.gpus_per_job), "ephemeral-storage" = local.ephemeral }
              limits   = { cpu = var.cpu, memory = var.memory, "nvidia.com/gpu" = tostring(var.gpus_per_job), "ephemeral-storage" = local.ephemeral }
            }
            securityContext = {
              allowPrivilegeEscalation = false
              readOnlyRootFilesystem   = true
              capabilities             = { drop = ["ALL"] }
            }
            volumeMounts = [
              { name = "scratch", mountPath = "/scratch" },
              { name = "tmp", mountPath = "/tmp" },
              { name = "shm", mountPath = "/dev/shm" },
            ]
          }]
          volumes = [
            { name = "scratch", emptyDir = { sizeLimit = "${local.scratch_gib}Gi" } },
            { name = "tmp", emptyDir = { sizeLimit = "${local.tmp_gib}Gi" } },
            # NCCL and DataLoader workers exchange tensors through /dev/shm.
            { name = "shm", emptyDir = { medium = "Memory", sizeLimit = var.shm_size } },
          ]
        }
      }
    }
  }
}

module "env" {
  source            = "../app_env"
  namespace         = var.namespace
  config            = var.app_config
  secret_store_name = var.secret_store_name
  app_secret_name   = var.app_secret_name
}

resource "kubernetes_service_account_v1" "trainer" {
  metadata {
    name      = "trainer"
    namespace = module.env.namespace
  }
}

resource "aws_eks_pod_identity_association" "trainer" {
  cluster_name    = var.cluster_name
  namespace       = module.env.namespace
  service_account = kubernetes_service_account_v1.trainer.metadata[0].name
  role_arn        = var.role_arn
}

resource "kubernetes_config_map_v1" "job_template" {
  metadata {
    name      = "training-job"
    namespace = module.env.namespace
  }
  data = {
    "job.yaml" = yamlencode(local.job_template)
  }
}

# A hard cap on GPUs in flight, whatever the launcher or a user submits.
resource "kubernetes_resource_quota_v1" "gpus" {
  metadata {
    name      = "gpu-quota"
    namespace = module.env.namespace
  }
  spec {
    hard = {
      "requests.nvidia.com/gpu" = tostring(var.max_gpus)
    }
  }
}

# Dagster run pods may start, watch and clean up training jobs here, and nothing else.
resource "kubernetes_role_v1" "launcher" {
  metadata {
    name      = "training-launcher"
    namespace = module.env.namespace
  }
  rule {
    api_groups = ["batch"]
    resources  = ["jobs"]
    verbs      = ["create", "get", "list", "watch", "delete"]
  }
  rule {
    api_groups = [""]
    resources  = ["pods", "pods/log"]
    verbs      = ["get", "list", "watch"]
  }
  rule {
    api_groups     = [""]
    resources      = ["configmaps"]
    resource_names = [kubernetes_config_map_v1.job_template.metadata[0].name]
    verbs          = ["get"]
  }
}

resource "kubernetes_role_binding_v1" "launcher" {
  metadata {
    name      = "training-launcher"
    namespace = module.env.namespace
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.launcher.metadata[0].name
  }
  subject {
    kind      = "ServiceAccount"
    name      = var.launcher_service_account.name
    namespace = var.launcher_service_account.namespace
  }
}
