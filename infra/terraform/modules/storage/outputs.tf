output "kms_key_arn" {
  description = "ARN of the platform KMS key."
  value       = aws_kms_key.this.arn
}

output "bucket_names" {
  description = "Bucket names by key."
  value       = { for k, b in aws_s3_bucket.this : k => b.bucket }
}

output "bucket_arns" {
  description = "Bucket ARNs by key."
  value       = { for k, b in aws_s3_bucket.this : k => b.arn }
}

output "log_bucket_arn" {
  description = "ARN of the access-log bucket (also receives VPC flow logs)."
  value       = aws_s3_bucket.logs.arn
}
