output "namespace" {
  description = "Namespace of Dagster and its run pods."
  value       = module.env.namespace
}

output "service_account" {
  description = "Service account of Dagster pods (granted rollout and job rights by serving and training)."
  value       = var.service_account
}

output "db_endpoint" {
  description = "Postgres endpoint."
  value       = aws_db_instance.this.endpoint
}

output "db_secret_arn" {
  description = "ARN of the RDS-managed password secret."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "webserver_service" {
  description = "In-cluster service of the Dagster UI (reach it with kubectl port-forward)."
  value       = "dagster-dagster-webserver.${module.env.namespace}.svc.cluster.local:80"
}
