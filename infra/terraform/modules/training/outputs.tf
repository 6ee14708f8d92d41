output "namespace" {
  description = "Namespace where training jobs run (TWIN_TRAINING_NAMESPACE)."
  value       = module.env.namespace
}

output "job_template_config_map" {
  description = "ConfigMap holding job.yaml, the Job manifest the launcher submits."
  value       = kubernetes_config_map_v1.job_template.metadata[0].name
}

output "service_account" {
  description = "Service account of training pods."
  value       = kubernetes_service_account_v1.trainer.metadata[0].name
}
