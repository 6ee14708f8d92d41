variable "environment" {
  type        = string
  description = "Environment name, part of every resource name."

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  type        = string
  description = "AWS region of the whole environment."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on every resource (cost centre, owner)."
  default     = {}
}

variable "vpc_cidr" {
  type        = string
  description = "VPC CIDR (a /16 leaves room for pod IPs)."
  default     = "10.40.0.0/16"
}

variable "az_count" {
  type        = number
  description = "Availability zones to use."
  default     = 3
}

variable "single_nat_gateway" {
  type        = bool
  description = "One shared NAT gateway (cheaper, less resilient)."
  default     = false
}

variable "data_prefix" {
  type        = string
  description = "TWIN_S3_PREFIX inside the data bucket: empty or ending in '/'."
  default     = ""

  validation {
    condition     = var.data_prefix == "" || endswith(var.data_prefix, "/")
    error_message = "data_prefix must be empty or end with '/'."
  }
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days to keep overwritten versions of warehouse, dataset and model objects."
  default     = 90
}

variable "force_destroy_buckets" {
  type        = bool
  description = "Allow terraform destroy to delete non-empty buckets (dev only)."
  default     = false
}

variable "kubernetes_version" {
  type        = string
  description = "EKS Kubernetes version."
  default     = "1.33"
}

variable "endpoint_public_access" {
  type        = bool
  description = "Expose the Kubernetes API to endpoint_public_access_cidrs (needed to apply from outside the VPC)."
  default     = false
}

variable "endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the public API endpoint."
  default     = []
}

variable "system_node_group" {
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    disk_size      = optional(number, 50)
  })
  description = "Always-on CPU node group."
  default = {
    instance_types = ["m6i.xlarge"]
    min_size       = 2
    max_size       = 6
  }
}

variable "gpu_node_groups" {
  type = map(object({
    instance_types = list(string)
    min_size       = optional(number, 0)
    max_size       = number
    disk_size      = optional(number, 200)
    capacity_type  = optional(string, "ON_DEMAND")
  }))
  description = "GPU node groups; min_size 0 scales each to zero."
  default = {
    a10g-1 = { instance_types = ["g5.2xlarge"], max_size = 2 }
    a10g-4 = { instance_types = ["g5.12xlarge"], max_size = 1 }
  }
}

variable "milvus_managed_uri" {
  type        = string
  description = "Managed Milvus URI; null deploys Milvus on the cluster."
  default     = null
}

variable "milvus_cluster_mode" {
  type        = bool
  description = "Distributed Milvus instead of standalone."
  default     = false
}

variable "langfuse_host" {
  type        = string
  description = "LANGFUSE_HOST (cloud or self-hosted Langfuse)."
  default     = "https://cloud.langfuse.com"

  validation {
    condition     = can(regex("^https?://", var.langfuse_host))
    error_message = "langfuse_host must be an http(s) URL."
  }
}

variable "user_code_image" {
  type = object({
    repository = string
    tag        = string
  })
  description = "Dagster user-code image (infra/docker/user-code)."
}

variable "api_image" {
  type        = string
  description = "Serving image with tag (infra/docker/serving)."
}

variable "training_image" {
  type        = string
  description = "Training image with tag (infra/docker/training)."
}

variable "training_concurrency_limit" {
  type        = number
  description = "Training runs at once (queued run coordinator tag limit)."
  default     = 1
}

variable "training_gpus_per_job" {
  type        = number
  description = "GPUs per training job."
  default     = 4
}

variable "training_deepspeed" {
  type        = string
  description = "DeepSpeed config of training runs (TWIN_TRAINER_DEEPSPEED): zero2, zero3, zero3_offload, or empty for plain DDP."
  default     = "zero2"

  validation {
    condition     = contains(["", "zero2", "zero3", "zero3_offload"], var.training_deepspeed)
    error_message = "training_deepspeed must be zero2, zero3, zero3_offload or empty."
  }
}

variable "training_max_model_params_billion" {
  type        = number
  description = "Largest base model (billions of parameters) trained in this environment; sizes the training scratch and the GPU node disk it needs."
  default     = 70
}

variable "training_max_gpus" {
  type        = number
  description = "GPU quota of the training namespace."
  default     = 4
}

variable "db_instance_class" {
  type        = string
  description = "RDS class of the Dagster database."
  default     = "db.t4g.medium"
}

variable "db_multi_az" {
  type        = bool
  description = "Multi-AZ Dagster database."
  default     = true
}

variable "db_deletion_protection" {
  type        = bool
  description = "Deletion protection on the Dagster database."
  default     = true
}

variable "serving_engine" {
  type        = string
  description = "Inference engine of the environment: tgi or vllm."
  default     = "tgi"
}

variable "twin_authors" {
  type        = list(string)
  description = "The authors whose twins the engine serves, by slug (`twin authors list`): each is the adapter twin-<slug> on the shared base, from models/twin/<slug>/ (its production alias). A new author is served after their first promotion and an apply that adds them here."

  validation {
    condition     = length(var.twin_authors) >= 1 && alltrue([for slug in var.twin_authors : can(regex("^[a-z0-9][a-z0-9-]{0,57}$", slug))])
    error_message = "twin_authors needs at least one author slug (lower-case letters, digits and dashes, as `twin authors list` prints them)."
  }
}

variable "serve_adapters" {
  type        = bool
  description = "Serve LoRA adapters on the base (false: the one adapter's merged export)."
  default     = true
}

variable "engine" {
  type = object({
    max_input_tokens = number
    max_total_tokens = number
    quantize         = optional(string)
    gpus             = optional(number, 1)
    cpu              = optional(string, "4")
    memory           = optional(string, "24Gi")
    model_disk       = optional(string, "60Gi")
    max_lora_rank    = optional(number, 64)
  })
  description = "Engine token limits, quantization, LoRA rank and resources (see modules/serving)."
  default = {
    max_input_tokens = 3072
    max_total_tokens = 4096
  }
}

variable "engine_scale_to_zero" {
  type        = bool
  description = "Let the engine scale to zero when idle."
  default     = false
}

variable "engine_min_replicas" {
  type        = number
  description = "Warm engine replicas when not scaling to zero."
  default     = 1
}

variable "engine_max_replicas" {
  type        = number
  description = "Maximum engine replicas."
  default     = 2
}

variable "engine_target_concurrent_requests" {
  type        = number
  description = "In-flight requests per engine replica before scaling out."
  default     = 8
}
