output "cluster_name" {
  description = "EKS cluster name."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_ca_certificate" {
  description = "Base64 cluster CA certificate."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "Security group EKS attaches to the control plane and managed nodes."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "gpu_node_selector" {
  description = "Node selector that places a pod on GPU nodes."
  value       = { (local.gpu_label_key) = "nvidia" }
}

output "gpu_tolerations" {
  description = "Toleration GPU pods need for the GPU node taint."
  value       = [{ key = local.gpu_taint_key, operator = "Exists", effect = "NoSchedule" }]
}

output "secret_store_name" {
  description = "ClusterSecretStore that ExternalSecrets reference."
  value       = kubernetes_manifest.secret_store.manifest.metadata.name
}
