output "namespace" {
  description = "The namespace created."
  value       = kubernetes_namespace_v1.this.metadata[0].name
}

output "config_map_name" {
  description = "ConfigMap to reference with envFrom."
  value       = kubernetes_config_map_v1.this.metadata[0].name
}

output "secret_name" {
  description = "Secret (synced by External Secrets) to reference with envFrom."
  value       = kubernetes_manifest.secrets.manifest.spec.target.name
}
