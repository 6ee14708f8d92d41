# Inference: TGI serving the registry's production model, scaled on request load by the KEDA
# HTTP add-on (optionally to zero: GPU hours are the largest bill), and the `twin serve` API.
#
# Model loading: an init container resolves models/<name>/aliases/production to a version and
# syncs the merged weights models/<name>/<version>/model/ from S3 into the pod; TGI loads it from local disk. Promotion
# writes the alias and then patches the pod template annotation twin/model-version (the Dagster
# service account may patch this one deployment), which rolls the deployment.

locals {
  tgi_labels  = { "app.kubernetes.io/name" = "tgi", "app.kubernetes.io/part-of" = "llm-twin" }
  api_labels  = { "app.kubernetes.io/name" = "twin-api", "app.kubernetes.io/part-of" = "llm-twin" }
  models_root = "s3://${var.model_bucket}/${var.model_prefix}models/${var.model_name}"
  tgi_host    = "tgi.${module.env.namespace}.svc.cluster.local"
  tgi_port    = 8080

  tgi_env = merge(
    {
      MODEL_ID         = "/data/model"
      PORT             = tostring(local.tgi_port)
      HOSTNAME         = "0.0.0.0"
      NUM_SHARD        = tostring(var.tgi.gpus)
      MAX_INPUT_TOKENS = tostring(var.tgi.max_input_tokens)
      MAX_TOTAL_TOKENS = tostring(var.tgi.max_total_tokens)
      HF_HOME          = "/data/hf"
      HF_HUB_OFFLINE   = "1"
    },
    var.tgi.quantize == null ? {} : { QUANTIZE = var.tgi.quantize },
  )

  # Resolve the production alias, then copy that version's files next to TGI.
  fetch_model = <<-EOT
    set -eu
    version=$(aws s3 cp "${local.models_root}/aliases/production" - | tr -d '[:space:]')
    test -n "$version"
    aws s3 sync --only-show-errors "${local.models_root}/$version/model/" /data/model/
    echo "serving ${var.model_name} version $version"
  EOT

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

# --- TGI -------------------------------------------------------------------------------------

resource "kubernetes_deployment_v1" "tgi" {
  metadata {
    name      = "tgi"
    namespace = module.env.namespace
    labels    = local.tgi_labels
  }

  # KEDA owns the replica count; nothing to wait for when scaled to zero.
  wait_for_rollout = false

  spec {
    replicas = var.scale_to_zero ? 0 : var.min_replicas
    selector {
      match_labels = local.tgi_labels
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
        labels      = local.tgi_labels
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
          name              = "fetch-model"
          image             = var.aws_cli_image
          image_pull_policy = "Always"
          command           = ["/bin/sh", "-c", local.fetch_model]
          env {
            name  = "HOME"
            value = "/tmp"
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
          name              = "tgi"
          image             = var.tgi_image
          image_pull_policy = "Always"

          dynamic "env" {
            for_each = local.tgi_env
            content {
              name  = env.key
              value = env.value
            }
          }

          port {
            name           = "http"
            container_port = local.tgi_port
          }

          resources {
            requests = { cpu = var.tgi.cpu, memory = var.tgi.memory, "nvidia.com/gpu" = tostring(var.tgi.gpus) }
            limits   = { cpu = var.tgi.cpu, memory = var.tgi.memory, "nvidia.com/gpu" = tostring(var.tgi.gpus) }
          }

          # Loading weights takes minutes; the startup probe covers it so liveness stays strict.
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
          # NCCL between shards needs a large /dev/shm.
          volume_mount {
            name       = "shm"
            mount_path = "/dev/shm"
          }
        }

        volume {
          name = "data"
          empty_dir {
            size_limit = var.tgi.model_disk
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

resource "kubernetes_service_v1" "tgi_backend" {
  metadata {
    name      = "tgi-backend"
    namespace = module.env.namespace
  }
  spec {
    selector = local.tgi_labels
    port {
      name        = "http"
      port        = local.tgi_port
      target_port = "http"
    }
  }
}

# Callers use TGI_URL=http://tgi.<ns>.svc.cluster.local:8080, which lands on the KEDA
# interceptor; it counts the request, wakes TGI if needed and forwards to tgi-backend.
resource "kubernetes_service_v1" "tgi" {
  metadata {
    name      = "tgi"
    namespace = module.env.namespace
  }
  spec {
    type          = "ExternalName"
    external_name = "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local"
  }
}

resource "kubernetes_manifest" "tgi_scaler" {
  manifest = {
    apiVersion = "http.keda.sh/v1alpha1"
    kind       = "HTTPScaledObject"
    metadata   = { name = "tgi", namespace = module.env.namespace }
    spec = {
      hosts = [local.tgi_host, "${local.tgi_host}:${local.tgi_port}"]
      scaleTargetRef = {
        name    = kubernetes_deployment_v1.tgi.metadata[0].name
        kind    = "Deployment"
        service = kubernetes_service_v1.tgi_backend.metadata[0].name
        port    = local.tgi_port
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
    name      = "tgi-rollout"
    namespace = module.env.namespace
  }
  rule {
    api_groups     = ["apps"]
    resources      = ["deployments"]
    resource_names = [kubernetes_deployment_v1.tgi.metadata[0].name]
    verbs          = ["get", "patch"]
  }
}

resource "kubernetes_role_binding_v1" "rollout" {
  metadata {
    name      = "tgi-rollout"
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
