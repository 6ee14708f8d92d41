output "cluster_name" {
  description = "EKS cluster: aws eks update-kubeconfig --name <this>."
  value       = module.cluster.cluster_name
}

output "data_bucket" {
  description = "TWIN_S3_BUCKET."
  value       = module.storage.bucket_names["data"]
}

output "app_secret_name" {
  description = "Put the application secret's JSON value here (aws secretsmanager put-secret-value)."
  value       = module.iam.app_secret_name
}

output "engine_url" {
  description = "TGI_URL inside the cluster (TGI or vLLM)."
  value       = module.serving.engine_url
}

output "served_models" {
  description = "Model names the engine answers to (adapter ids)."
  value       = module.serving.served_models
}

output "dagster_webserver" {
  description = "Dagster UI service (kubectl port-forward)."
  value       = module.dagster.webserver_service
}

output "milvus_uri" {
  description = "TWIN_MILVUS_URI."
  value       = module.milvus.uri
}
