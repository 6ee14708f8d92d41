# Inference: one engine (TGI by default, or vLLM) serving the shared base with every twin's LoRA
# adapter, scaled on request load by the KEDA HTTP add-on (optionally to zero: GPU hours are the
# largest bill), and the `twin serve` API.
#
# Model loading: an init container (fetch_models.py, run with the API image's Python) resolves
# each adapter's models/<model>/aliases/production to a version, reads its card for the base it
# was trained on, and copies the base's weights to /data/model and each adapter to
# /data/adapters/<id>; the engine loads them from local disk and applies the adapter a request
# names. With serve_adapters = false it copies the one merged export instead. Promotion writes the
# alias and then patches the pod template annotation twin/model-version (the Dagster service
# account may patch this one deployment), which rolls the deployment.

locals {
  engine_labels = { "app.kubernetes.io/name" = "engine", "app.kubernetes.io/part-of" = "llm-twin" }
  api_labels    = { "app.kubernetes.io/name" = "twin-api", "app.kubernetes.io/part-of" = "llm-twin" }
  engine_host   = "engine.${module.env.namespace}.svc.cluster.local"
  engine_port   = 8080
  model_dir     = "/data/model"
  adapters_dir  = "/data/adapters"

  # Requests name an adapter id as their model; without adapters the one merged model answers
  # to its adapter's id, so callers send the same name either way.
  base_name = var.serve_adapters ? "base" : sort(keys(var.adapters))[0]

  # id=/data/adapters/id, the form both engines take for local adapters.
  adapter_specs = [for id in sort(keys(var.adapters)) : "${id}=${local.adapters_dir}/${id}"]

  tgi_env = merge(
    {
      MODEL_ID         = local.model_dir
      PORT             = tostring(local.engine_port)
      HOSTNAME         = "0.0.0.0"
      NUM_SHARD        = tostring(var.engine.gpus)
      MAX_INPUT_TOKENS = tostring(var.engine.max_input_tokens)
      MAX_TOTAL_TOKENS = tostring(var.engine.max_total_tokens)
      HF_HOME          = "/data/hf"
      HF_HUB_OFFLINE   = "1"
    },
    var.serve_adapters ? { LORA_ADAPTERS = join(",", local.adapter_specs) } : {},
    var.engine.quantize == null ? {} : { QUANTIZE = var.engine.quantize },
  )

  # vLLM writes compile and kernel caches; the root filesystem is read-only, so they go to /data.
  vllm_env = {
    HOME             = "/tmp"
    HF_HOME          = "/data/hf"
    HF_HUB_OFFLINE   = "1"
    VLLM_CACHE_ROOT  = "/data/cache/vllm"
    TRITON_CACHE_DIR = "/data/cache/triton"
    XDG_CACHE_HOME   = "/data/cache"
  }
  vllm_args = concat(
    [
      "serve", local.model_dir,
      "--host", "0.0.0.0",
      "--port", tostring(local.engine_port),
      "--served-model-name", local.base_name,
      "--max-model-len", tostring(var.engine.max_total_tokens),
      "--tensor-parallel-size", tostring(var.engine.gpus),
    ],
    var.serve_adapters ? concat(
      ["--enable-lora", "--max-loras", tostring(length(var.adapters)),
      "--max-lora-rank", tostring(var.engine.max_lora_rank), "--lora-modules"],
      local.adapter_specs,
    ) : [],
    var.engine.quantize == null ? [] : ["--quantization", var.engine.quantize],
  )

  # The same pod, probes and autoscaling for both engines; only image, arguments and environment
  # differ. TGI is configured by environment, vLLM by arguments.
  vllm           = var.serving_engine == "vllm"
  engine_image   = local.vllm ? var.vllm_image : var.tgi_image
  engine_command = local.vllm ? ["vllm"] : null
  engine_args    = local.vllm ? local.vllm_args : null
  engine_env     = local.vllm ? tomap(local.vllm_env) : tomap(local.tgi_env)

  restricted_security_context = {
    run_as_non_root            = true
    allow_privilege_escalation = false
    read_only_root_filesystem  = true
  }
}

module "env" {
  source            = "../app_env"
  namespace         = var.namespace
  config            = var.app_config
  secret_store_name = var.secret_store_name
  app_secret_name   = var.app_secret_name
}

resource "kubernetes_service_account_v1" "serving" {
  metadata {
    name      = "serving"
    namespace = module.env.namespace
  }
}

resource "aws_eks_pod_identity_association" "serving" {
  cluster_name    = var.cluster_name
  namespace       = module.env.namespace
  service_account = kubernetes_service_account_v1.serving.metadata[0].name
  role_arn        = var.role_arn
}

# --- Engine (TGI or vLLM) ------------------------------------------------------------------

resource "kubernetes_deployment_v1" "engine" {
  metadata {
    name      = "engine"
    namespace = module.env.namespace
    labels    = local.engine_labels
  }

  # KEDA owns the replica count; nothing to wait for when scaled to zero.
  wait_for_rollout = false

  spec {
    replicas = var.scale_to_zero ? 0 : var.min_replicas
    selector {
      match_labels = local.engine_labels
    }

    strategy {
      type = "RollingUpdate"
      rolling_update {
        max_surge       = "1"
        max_unavailable = "0"
      }
    }

    template {
      metadata {
        labels      = local.engine_labels
        annotations = { "twin/model-version" = "production" }
      }

      spec {
        service_account_name             = kubernetes_service_account_v1.serving.metadata[0].name
        automount_service_account_token  = false
        node_selector                    = var.gpu_node_selector
        termination_grace_period_seconds = 60

        dynamic "toleration" {
          for_each = var.gpu_tolerations
          content {
            key      = toleration.value.key
            operator = toleration.value.operator
            effect   = toleration.value.effect
          }
        }

        security_context {
          run_as_non_root = true
          run_as_user     = 1000
          run_as_group    = 1000
          fs_group        = 1000
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        init_container {
          name              = "fetch-models"
          image             = var.api_image
          image_pull_policy = "Always"
          command           = ["python", "-c", file("${path.module}/fetch_models.py")]
          env_from {
            config_map_ref {
              name = module.env.config_map_name
            }
          }
          dynamic "env" {
            for_each = {
              MODELS_BUCKET  = var.model_bucket
              MODELS_PREFIX  = var.model_prefix
              ADAPTERS       = jsonencode(var.adapters)
              SERVE_ADAPTERS = var.serve_adapters ? "1" : "0"
              DEST           = "/data"
              HOME           = "/tmp"
            }
            content {
              name  = env.key
              value = env.value
            }
          }
          resources {
            requests = { cpu = "500m", memory = "512Mi" }
            limits   = { cpu = "2", memory = "2Gi" }
          }
          security_context {
            run_as_non_root            = local.restricted_security_context.run_as_non_root
            allow_privilege_escalation = local.restricted_security_context.allow_privilege_escalation
            read_only_root_filesystem  = local.restricted_security_context.read_only_root_filesystem
            capabilities {
              drop = ["ALL"]
            }
          }
          volume_mount {
            name       = "data"
            mount_path = "/data"
          }
          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
        }

        container {
          name              = "engine"
          image             = local.engine_image
          image_pull_policy = "Always"
          command           = local.engine_command
          args              = local.engine_args

          dynamic "env" {
            for_each = local.engine_env
            content {
              name  = env.key
              value = env.value
            }
          }

          port {
            name           = "http"
            container_port = local.engine_port
          }

          resources {
            requests = { cpu = var.engine.cpu, memory = var.engine.memory, "nvidia.com/gpu" = tostring(var.engine.gpus) }
            limits   = { cpu = var.engine.cpu, memory = var.engine.memory, "nvidia.com/gpu" = tostring(var.engine.gpus) }
          }

          # Both engines answer GET /health once the model is loaded. Loading weights takes
          # minutes; the startup probe covers it so liveness stays strict.
          startup_probe {
            http_get {
              path = "/health"
              port = "http"
            }
            period_seconds    = 10
            failure_threshold = 90
          }
          readiness_probe {
            http_get {
              path = "/health"
              port = "http"
            }
            period_seconds = 10
          }
          liveness_probe {
            http_get {
              path = "/health"
              port = "http"
            }
            period_seconds    = 30
            failure_threshold = 3
          }

          security_context {
            run_as_non_root            = local.restricted_security_context.run_as_non_root
            allow_privilege_escalation = local.restricted_security_context.allow_privilege_escalation
            read_only_root_filesystem  = local.restricted_security_context.read_only_root_filesystem
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "data"
            mount_path = "/data"
          }
          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
          # NCCL between shards (TGI) or tensor-parallel workers (vLLM) needs a large /dev/shm.
          volume_mount {
            name       = "shm"
            mount_path = "/dev/shm"
          }
        }

        volume {
          name = "data"
          empty_dir {
            size_limit = var.engine.model_disk
          }
        }
        volume {
          name = "tmp"
          empty_dir {
            size_limit = "1Gi"
          }
        }
        volume {
          name = "shm"
          empty_dir {
            medium     = "Memory"
            size_limit = "4Gi"
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [
      spec[0].replicas,
      spec[0].template[0].metadata[0].annotations["twin/model-version"],
    ]
  }
}

resource "kubernetes_service_v1" "engine_backend" {
  metadata {
    name      = "engine-backend"
    namespace = module.env.namespace
  }
  spec {
    selector = local.engine_labels
    port {
      name        = "http"
      port        = local.engine_port
      target_port = "http"
    }
  }
}

# Callers use TGI_URL=http://engine.<ns>.svc.cluster.local:8080 (either engine), which lands on
# the KEDA interceptor; it counts the request, wakes the engine if needed and forwards to
# engine-backend.
resource "kubernetes_service_v1" "engine" {
  metadata {
    name      = "engine"
    namespace = module.env.namespace
  }
  spec {
    type          = "ExternalName"
    external_name = "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local"
  }
}

resource "kubernetes_manifest" "engine_scaler" {
  manifest = {
    apiVersion = "http.keda.sh/v1alpha1"
    kind       = "HTTPScaledObject"
    metadata   = { name = "engine", namespace = module.env.namespace }
    spec = {
      hosts = [local.engine_host, "${local.engine_host}:${local.engine_port}"]
      scaleTargetRef = {
        name    = kubernetes_deployment_v1.engine.metadata[0].name
        kind    = "Deployment"
        service = kubernetes_service_v1.engine_backend.metadata[0].name
        port    = local.engine_port
      }
      replicas = {
        min = var.scale_to_zero ? 0 : var.min_replicas
        max = var.max_replicas
      }
      scaledownPeriod = var.scale_down_period_seconds
      scalingMetric = {
        concurrency = { targetValue = var.target_concurrent_requests }
      }
    }
  }
}

# Promotion (a Dagster run) may patch this one deployment to roll it, nothing else.
resource "kubernetes_role_v1" "rollout" {
  metadata {
    name      = "engine-rollout"
    namespace = module.env.namespace
  }
  rule {
    api_groups     = ["apps"]
    resources      = ["deployments"]
    resource_names = [kubernetes_deployment_v1.engine.metadata[0].name]
    verbs          = ["get", "patch"]
  }
}

resource "kubernetes_role_binding_v1" "rollout" {
  metadata {
    name      = "engine-rollout"
    namespace = module.env.namespace
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.rollout.metadata[0].name
  }
  subject {
    kind      = "ServiceAccount"
    name      = var.rollout_service_account.name
    namespace = var.rollout_service_account.namespace
  }
}

# --- API (`twin serve`) ----------------------------------------------------------------------

resource "kubernetes_deployment_v1" "api" {
  metadata {
    name      = "twin-api"
    namespace = module.env.namespace
    labels    = local.api_labels
  }

  spec {
    replicas = var.api_min_replicas
    selector {
      match_labels = local.api_labels
    }

    template {
      metadata {
        labels = local.api_labels
      }

      spec {
        service_account_name            = kubernetes_service_account_v1.serving.metadata[0].name
        automount_service_account_token = false
        node_selector                   = { "twin/pool" = "system" }

        security_context {
          run_as_non_root = true
          run_as_user     = 10001
          run_as_group    = 10001
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "api"
          image             = var.api_image
          image_pull_policy = "Always"

          env_from {
            config_map_ref {
              name = module.env.config_map_name
            }
          }
          env_from {
            secret_ref {
              name = module.env.secret_name
            }
          }

          port {
            name           = "http"
            container_port = 8000
          }

          resources {
            requests = { cpu = "250m", memory = "512Mi" }
            limits   = { cpu = "1", memory = "1Gi" }
          }

          readiness_probe {
            tcp_socket {
              port = "http"
            }
            period_seconds = 10
          }
          liveness_probe {
            tcp_socket {
              port = "http"
            }
            period_seconds = 30
          }

          security_context {
            run_as_non_root            = local.restricted_security_context.run_as_non_root
            allow_privilege_escalation = local.restricted_security_context.allow_privilege_escalation
            read_only_root_filesystem  = local.restricted_security_context.read_only_root_filesystem
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
        }

        volume {
          name = "tmp"
          empty_dir {
            size_limit = "512Mi"
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [spec[0].replicas]
  }
}

resource "kubernetes_service_v1" "api" {
  metadata {
    name      = "twin-api"
    namespace = module.env.namespace
  }
  spec {
    selector = local.api_labels
    port {
      name        = "http"
      port        = 80
      target_port = "http"
    }
  }
}

resource "kubernetes_horizontal_pod_autoscaler_v2" "api" {
  metadata {
    name      = "twin-api"
    namespace = module.env.namespace
  }
  spec {
    min_replicas = var.api_min_replicas
    max_replicas = var.api_max_replicas
    scale_target_ref {
      api_version = "apps/v1"
      kind        = "Deployment"
      name        = kubernetes_deployment_v1.api.metadata[0].name
    }
    metric {
      type = "Resource"
      resource {
        name = "cpu"
        target {
          type                = "Utilization"
          average_utilization = 70
        }
      }
    }
  }
}
