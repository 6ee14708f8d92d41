# One state per environment in the bucket made by ../bootstrap. Bucket, key and region come from
# the environment's backend config: terraform init -reconfigure -backend-config=<env>.s3.tfbackend
terraform {
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
