variable "managed_uri" {
  type        = string
  description = "URI of a managed Milvus (e.g. Zilliz Cloud). When set, nothing is deployed."
  default     = null

  validation {
    condition     = var.managed_uri == null || can(regex("^https?://", var.managed_uri))
    error_message = "managed_uri must start with http:// or https://."
  }
}

variable "namespace" {
  type        = string
  description = "Namespace of the self-hosted Milvus."
  default     = "milvus"
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster name (pod identity association)."
  default     = null
}

variable "role_arn" {
  type        = string
  description = "IAM role of the Milvus pods (iam module's milvus role)."
  default     = null
}

variable "bucket_name" {
  type        = string
  description = "Bucket for Milvus segments (storage module's milvus bucket)."
  default     = null
}

variable "cluster_mode" {
  type        = bool
  description = "Distributed Milvus (query/data/index nodes, Pulsar) instead of standalone. Standalone serves millions of chunks."
  default     = false
}

variable "chart_version" {
  type        = string
  description = "Pinned milvus-helm chart version."
  default     = "4.2.8"
}

variable "resources" {
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  description = "CPU/memory of the standalone Milvus pod."
  default = {
    requests = { cpu = "1", memory = "4Gi" }
    limits   = { cpu = "2", memory = "8Gi" }
  }
}

variable "volume_size" {
  type        = string
  description = "Local volume of the standalone pod (write-ahead log and cache; segments live in S3)."
  default     = "50Gi"
}
