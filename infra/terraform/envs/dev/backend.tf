# Bucket comes from backend.hcl (see backend.hcl.example), created by envs/bootstrap.
terraform {
  backend "s3" {
    key          = "llm-twin/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
