variable "namespace" {
  type        = string
  description = "Namespace for TGI and the API."
  default     = "twin-serving"
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster name (pod identity association)."
}

variable "role_arn" {
  type        = string
  description = "IAM role of serving pods: read-only on models/ (iam module's serving role)."
}

variable "app_config" {
  type        = map(string)
  description = "Non-secret environment of the API (twin-config)."
}

variable "secret_store_name" {
  type        = string
  description = "ClusterSecretStore for AWS Secrets Manager."
}

variable "app_secret_name" {
  type        = string
  description = "Secrets Manager name of the application secret."
}

variable "model_bucket" {
  type        = string
  description = "Bucket of the model registry (the data bucket)."
}

variable "model_prefix" {
  type        = string
  description = "Key prefix of the registry inside the bucket (TWIN_S3_PREFIX): empty or ending in '/'."
  default     = ""

  validation {
    condition     = var.model_prefix == "" || endswith(var.model_prefix, "/")
    error_message = "model_prefix must be empty or end with '/'."
  }
}

variable "model_name" {
  type        = string
  description = "Registry model name: TGI serves models/<model_name>/<version named by aliases/production>/."
  default     = "twin"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+$", var.model_name))
    error_message = "model_name must be a single path segment."
  }
}

variable "tgi_image" {
  type        = string
  description = "Official TGI image, pinned to a version."
  default     = "ghcr.io/huggingface/text-generation-inference:3.3.4"

  validation {
    condition     = can(regex(":[0-9][^:]*$", var.tgi_image)) || can(regex("@sha256:", var.tgi_image))
    error_message = "tgi_image must be pinned to a version tag or digest."
  }
}

variable "aws_cli_image" {
  type        = string
  description = "Image of the init container that copies the model from S3."
  default     = "public.ecr.aws/aws-cli/aws-cli:2.27.50"

  validation {
    condition     = can(regex(":[0-9][^:]*$", var.aws_cli_image)) || can(regex("@sha256:", var.aws_cli_image))
    error_message = "aws_cli_image must be pinned to a version tag or digest."
  }
}

variable "api_image" {
  type        = string
  description = "Image built from infra/docker/serving (runs `twin serve`), pinned to a tag or digest."

  validation {
    condition     = !endswith(var.api_image, ":latest") && can(regex(":[^/]+$", var.api_image))
    error_message = "api_image must carry an explicit tag other than latest."
  }
}

variable "tgi" {
  type = object({
    max_input_tokens = number
    max_total_tokens = number
    quantize         = optional(string)
    gpus             = optional(number, 1)
    cpu              = optional(string, "4")
    memory           = optional(string, "24Gi")
    model_disk       = optional(string, "60Gi")
  })
  description = "TGI settings: token limits, quantization (null for none), GPUs per replica (shards), CPU/memory, local disk for weights."
  default = {
    max_input_tokens = 3072
    max_total_tokens = 4096
  }

  validation {
    condition     = var.tgi.max_input_tokens >= 1 && var.tgi.max_input_tokens < var.tgi.max_total_tokens
    error_message = "tgi.max_input_tokens must be positive and smaller than tgi.max_total_tokens."
  }

  validation {
    condition     = var.tgi.quantize == null || contains(["awq", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "eetq", "exl2", "fp8", "gptq", "marlin"], coalesce(var.tgi.quantize, "none"))
    error_message = "tgi.quantize must be null or one of TGI's methods: awq, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4, eetq, exl2, fp8, gptq, marlin."
  }

  validation {
    condition     = contains([1, 2, 4, 8], var.tgi.gpus)
    error_message = "tgi.gpus must be 1, 2, 4 or 8."
  }
}

variable "scale_to_zero" {
  type        = bool
  description = "Let TGI scale to zero replicas when idle; the first request then waits for a GPU node and model load (minutes)."
  default     = false
}

variable "min_replicas" {
  type        = number
  description = "TGI replicas kept warm when scale_to_zero is false."
  default     = 1

  validation {
    condition     = var.min_replicas >= 1
    error_message = "min_replicas must be at least 1 (use scale_to_zero for 0)."
  }
}

variable "max_replicas" {
  type        = number
  description = "Upper bound of TGI replicas (each holds tgi.gpus GPUs)."
  default     = 2

  validation {
    condition     = var.max_replicas >= 1 && var.max_replicas <= 32
    error_message = "max_replicas must be between 1 and 32."
  }

  validation {
    condition     = var.max_replicas >= var.min_replicas
    error_message = "max_replicas must be at least min_replicas."
  }
}

variable "target_concurrent_requests" {
  type        = number
  description = "In-flight requests per TGI replica before KEDA adds one."
  default     = 8

  validation {
    condition     = var.target_concurrent_requests >= 1
    error_message = "target_concurrent_requests must be at least 1."
  }
}

variable "scale_down_period_seconds" {
  type        = number
  description = "Idle seconds before TGI scales down (to zero when allowed)."
  default     = 900

  validation {
    condition     = var.scale_down_period_seconds >= 60
    error_message = "scale_down_period_seconds must be at least 60."
  }
}

variable "api_min_replicas" {
  type        = number
  description = "Minimum API replicas."
  default     = 2

  validation {
    condition     = var.api_min_replicas >= 1
    error_message = "api_min_replicas must be at least 1."
  }
}

variable "api_max_replicas" {
  type        = number
  description = "Maximum API replicas (CPU-based autoscaling)."
  default     = 6

  validation {
    condition     = var.api_max_replicas >= var.api_min_replicas
    error_message = "api_max_replicas must be at least api_min_replicas."
  }
}

variable "gpu_node_selector" {
  type        = map(string)
  description = "Node selector of GPU nodes (cluster module output)."
}

variable "gpu_tolerations" {
  type = list(object({
    key      = string
    operator = string
    effect   = string
  }))
  description = "Tolerations for the GPU node taint (cluster module output)."
}

variable "rollout_service_account" {
  type = object({
    name      = string
    namespace = string
  })
  description = "Service account allowed to roll the TGI deployment after a promotion (Dagster's)."
}
