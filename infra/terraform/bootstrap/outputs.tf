output "state_bucket" {
  description = "The bucket of every environment's backend config (environment/<env>.s3.tfbackend)."
  value       = module.state.bucket_names["tfstate"]
}
