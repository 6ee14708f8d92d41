output "role_arns" {
  description = "Workload role ARNs: dagster, training, serving, milvus, secrets."
  value       = { for k, r in aws_iam_role.workload : k => r.arn }
}

output "role_names" {
  description = "Workload role names, for attaching extra policies in other modules."
  value       = { for k, r in aws_iam_role.workload : k => r.name }
}

output "app_secret_name" {
  description = "Secrets Manager name of the application secret (a JSON object)."
  value       = aws_secretsmanager_secret.app.name
}

output "app_secret_arn" {
  description = "ARN of the application secret."
  value       = aws_secretsmanager_secret.app.arn
}
