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

output "node_disk_gib" {
  description = "Node disk a training Job needs: its scratch and /tmp plus 60 GiB for the CUDA image and the system."
  value       = local.scratch_gib + local.tmp_gib + 60
}
