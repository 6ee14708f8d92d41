# Run once per account with local state: creates the bucket that holds every environment's
# Terraform state (locking uses S3 lock files, so no DynamoDB table is needed).

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "llm-twin", ManagedBy = "terraform", Component = "tfstate" }
  }
}

module "state" {
  source = "../modules/storage"
  name   = "llm-twin-tfstate"
  buckets = {
    tfstate = { purpose = "terraform state", noncurrent_version_days = 365 }
  }
}
