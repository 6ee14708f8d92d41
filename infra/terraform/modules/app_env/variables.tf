variable "namespace" {
  type        = string
  description = "Namespace to create and fill with twin-config and twin-secrets."

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && var.namespace != "default"
    error_message = "namespace must be a DNS label and not 'default'."
  }
}

variable "config" {
  type        = map(string)
  description = "Non-secret environment (TWIN_ENV, TWIN_S3_BUCKET, TWIN_MILVUS_URI, TGI_URL, ...)."

  validation {
    condition = length(setintersection(keys(var.config), [
      "TWIN_MILVUS_TOKEN", "TWIN_API_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "GITHUB_TOKEN",
    ])) == 0
    error_message = "Secrets belong in Secrets Manager, not in the ConfigMap."
  }
}

variable "secret_store_name" {
  type        = string
  description = "ClusterSecretStore that reads AWS Secrets Manager."
}

variable "app_secret_name" {
  type        = string
  description = "Secrets Manager name of the JSON application secret."
}

variable "refresh_interval" {
  type        = string
  description = "How often a rotated secret value reaches the namespace."
  default     = "1h"

  validation {
    condition     = can(regex("^[0-9]+[smh]$", var.refresh_interval))
    error_message = "refresh_interval must be a duration such as 1h."
  }
}
