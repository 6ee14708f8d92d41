variable "name" {
  type        = string
  description = "Name prefix, e.g. llm-twin-prod."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace for Dagster and its run pods."
  default     = "dagster"
}

variable "service_account" {
  type        = string
  description = "Service account of the webserver, daemon, code server and run pods (bound to role_arn)."
  default     = "dagster"
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster name (for the pod identity association)."
}

variable "cluster_security_group_id" {
  type        = string
  description = "EKS cluster security group, allowed to reach Postgres."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the database."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the database subnet group."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Platform KMS key: database storage, Performance Insights and the password secret."
}

variable "role_arn" {
  type        = string
  description = "IAM role of the Dagster pods (iam module's dagster role)."
}

variable "secrets_role_name" {
  type        = string
  description = "Name of the External Secrets role, granted read on the database password secret."
}

variable "secret_store_name" {
  type        = string
  description = "ClusterSecretStore for AWS Secrets Manager."
}

variable "app_secret_name" {
  type        = string
  description = "Secrets Manager name of the application secret."
}

variable "app_config" {
  type        = map(string)
  description = "Non-secret environment of every Dagster container (twin-config)."
}

variable "compute_log_bucket" {
  type        = string
  description = "Bucket for step stdout/stderr (the data bucket)."
}

variable "compute_log_prefix" {
  type        = string
  description = "Key prefix inside compute_log_bucket: empty or ending in '/'."
  default     = ""

  validation {
    condition     = var.compute_log_prefix == "" || endswith(var.compute_log_prefix, "/")
    error_message = "compute_log_prefix must be empty or end with '/'."
  }
}

variable "user_code_image" {
  type = object({
    repository = string
    tag        = string
  })
  description = "Image built from infra/docker/user-code (runs the twin_assets.definitions code server)."

  validation {
    condition     = var.user_code_image.tag != "latest" && length(var.user_code_image.tag) > 0
    error_message = "Pin user_code_image.tag to a release or commit, not 'latest'."
  }
}

variable "chart_version" {
  type        = string
  description = "Dagster Helm chart version; keep it equal to the dagster library version in pyproject.toml."
  default     = "1.13.27"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.chart_version))
    error_message = "chart_version must be an exact version such as 1.13.27."
  }
}

variable "webserver_replicas" {
  type        = number
  description = "Dagster webserver replicas."
  default     = 1

  validation {
    condition     = var.webserver_replicas >= 1 && var.webserver_replicas <= 5
    error_message = "webserver_replicas must be between 1 and 5."
  }
}

variable "max_concurrent_runs" {
  type        = number
  description = "Runs the queued run coordinator lets run at once."
  default     = 10

  validation {
    condition     = var.max_concurrent_runs >= 1
    error_message = "max_concurrent_runs must be at least 1."
  }
}

variable "training_concurrency_limit" {
  type        = number
  description = "Concurrent runs tagged twin/compute=training (each launches a GPU job); match it to GPU node capacity."
  default     = 1

  validation {
    condition     = var.training_concurrency_limit >= 1
    error_message = "training_concurrency_limit must be at least 1."
  }
}

variable "embedding_concurrency_limit" {
  type        = number
  description = "Concurrent runs tagged twin/compute=embedding (each loads the embedding model)."
  default     = 2

  validation {
    condition     = var.embedding_concurrency_limit >= 1
    error_message = "embedding_concurrency_limit must be at least 1."
  }
}

variable "run_resources" {
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  description = "CPU/memory of each run pod."
  default = {
    requests = { cpu = "500m", memory = "1Gi" }
    limits   = { cpu = "2", memory = "4Gi" }
  }
}

variable "code_server_resources" {
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  description = "CPU/memory of the user-code server."
  default = {
    requests = { cpu = "250m", memory = "512Mi" }
    limits   = { cpu = "1", memory = "2Gi" }
  }
}

variable "db_engine_version" {
  type        = string
  description = "Postgres major version (minor upgrades are automatic)."
  default     = "17"

  validation {
    condition     = can(regex("^17(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be 17 or 17.x (the parameter group family is postgres17)."
  }
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class."
  default     = "db.t4g.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must be an RDS class such as db.t4g.medium."
  }
}

variable "db_allocated_storage_gb" {
  type        = number
  description = "Initial storage; autoscaling may grow it to four times this."
  default     = 50

  validation {
    condition     = var.db_allocated_storage_gb >= 20 && var.db_allocated_storage_gb <= 16384
    error_message = "db_allocated_storage_gb must be between 20 and 16384."
  }
}

variable "db_multi_az" {
  type        = bool
  description = "Standby in a second AZ (doubles the instance cost)."
  default     = true
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated backups."
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_deletion_protection" {
  type        = bool
  description = "Refuse to delete the database. Turn off only to tear down a dev environment."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every AWS resource."
  default     = {}
}
