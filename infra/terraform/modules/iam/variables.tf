variable "name" {
  type        = string
  description = "Name prefix for roles and secrets, e.g. llm-twin-prod."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "data_bucket_arn" {
  type        = string
  description = "ARN of the bucket holding warehouse/, datasets/ and models/."

  validation {
    condition     = startswith(var.data_bucket_arn, "arn:")
    error_message = "data_bucket_arn must be an ARN."
  }
}

variable "data_prefix" {
  type        = string
  description = "Key prefix inside the data bucket (TWIN_S3_PREFIX): empty or ending in '/'."
  default     = ""

  validation {
    condition     = var.data_prefix == "" || endswith(var.data_prefix, "/")
    error_message = "data_prefix must be empty or end with '/'."
  }
}

variable "milvus_bucket_arn" {
  type        = string
  description = "ARN of the bucket Milvus stores segments in."

  validation {
    condition     = startswith(var.milvus_bucket_arn, "arn:")
    error_message = "milvus_bucket_arn must be an ARN."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the platform KMS key that encrypts the buckets and the secret."

  validation {
    condition     = startswith(var.kms_key_arn, "arn:")
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "app_secret_keys" {
  type        = list(string)
  description = "Keys expected in the application secret's JSON; each becomes an env var of the same name."
  default = [
    "TWIN_MILVUS_TOKEN",
    "TWIN_API_KEY",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "GITHUB_TOKEN",
  ]

  validation {
    condition     = alltrue([for k in var.app_secret_keys : can(regex("^[A-Z][A-Z0-9_]*$", k))])
    error_message = "app_secret_keys must be upper-case environment variable names."
  }
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted secret can still be restored (0 deletes at once)."
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
