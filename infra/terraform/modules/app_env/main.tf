# The environment every LLM Twin container in one namespace starts with: a ConfigMap of
# endpoints (twin-config) and a Secret synced from Secrets Manager (twin-secrets), both read with
# envFrom so that no secret value is ever written into a pod spec.

resource "kubernetes_namespace_v1" "this" {
  metadata {
    name   = var.namespace
    labels = { "app.kubernetes.io/part-of" = "llm-twin" }
  }
}

resource "kubernetes_config_map_v1" "this" {
  metadata {
    name      = "twin-config"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  data = var.config
}

resource "kubernetes_manifest" "secrets" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ExternalSecret"
    metadata = {
      name      = "twin-secrets"
      namespace = kubernetes_namespace_v1.this.metadata[0].name
    }
    spec = {
      refreshInterval = var.refresh_interval
      secretStoreRef  = { kind = "ClusterSecretStore", name = var.secret_store_name }
      target          = { name = "twin-secrets", creationPolicy = "Owner" }
      # Every key of the JSON secret becomes one key of the Kubernetes Secret.
      dataFrom = [{ extract = { key = var.app_secret_name } }]
    }
  }
}
