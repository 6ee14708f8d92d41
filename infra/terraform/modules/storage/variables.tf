variable "name" {
  type        = string
  description = "Name prefix; bucket names are <name>-<key>-<account id> so they are globally unique."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "buckets" {
  type = map(object({
    purpose                 = string
    noncurrent_version_days = optional(number, 90)
    expire_prefixes         = optional(map(number), {})
  }))
  description = "Buckets to create, keyed by short name: purpose tag, days to keep old versions, and prefixes whose objects expire after N days."

  validation {
    condition     = alltrue([for k, b in var.buckets : can(regex("^[a-z0-9-]{2,20}$", k)) && b.noncurrent_version_days >= 1])
    error_message = "bucket keys must be 2-20 lowercase letters, digits or dashes, and noncurrent_version_days >= 1."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep S3 access logs and VPC flow logs."
  default     = 365

  validation {
    condition     = var.log_retention_days >= 30
    error_message = "log_retention_days must be at least 30."
  }
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before the KMS key is deleted (a deleted key makes every object unreadable)."
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Allow destroying non-empty buckets. Only for throwaway dev environments."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
