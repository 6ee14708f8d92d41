output "state_bucket" {
  description = "Put this in envs/<env>/backend.hcl as bucket."
  value       = module.state.bucket_names["tfstate"]
}
