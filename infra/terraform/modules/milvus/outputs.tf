output "uri" {
  description = "TWIN_MILVUS_URI for the applications."
  value       = var.managed_uri != null ? var.managed_uri : "http://milvus.${var.namespace}.svc.cluster.local:19530"
}

output "self_hosted" {
  description = "Whether Milvus runs on the cluster."
  value       = local.self_hosted
}
