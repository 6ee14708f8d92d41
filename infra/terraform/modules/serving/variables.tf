variable "namespace" {
  type        = string
  description = "Namespace for the engine and the API."
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

variable "serving_engine" {
  type        = string
  description = "Inference engine: tgi (Text Generation Inference) or vllm. Both serve the OpenAI-compatible Messages API the API generates through."
  default     = "tgi"

  validation {
    condition     = contains(["tgi", "vllm"], var.serving_engine)
    error_message = "serving_engine must be tgi or vllm."
  }
}

variable "tgi_image" {
  type        = string
  description = "Official TGI image, pinned to a version (serving_engine = tgi)."
  default     = "ghcr.io/huggingface/text-generation-inference:3.3.4"

  validation {
    condition     = can(regex(":[0-9][^:]*$", var.tgi_image)) || can(regex("@sha256:", var.tgi_image))
    error_message = "tgi_image must be pinned to a version tag or digest."
  }
}

variable "vllm_image" {
  type        = string
  description = "Official vLLM OpenAI-compatible server image, pinned to a version (serving_engine = vllm)."
  default     = "vllm/vllm-openai:v0.11.0"

  validation {
    condition     = can(regex(":v?[0-9][^:]*$", var.vllm_image)) || can(regex("@sha256:", var.vllm_image))
    error_message = "vllm_image must be pinned to a version tag or digest."
  }
}

variable "adapters" {
  type        = map(string)
  description = "LoRA adapters the engine serves on the shared base: adapter id (the model name requests use) => registry model under models/ whose production alias names the version: twin-<author slug> => twin/<author slug>, one per author (the environment builds it from twin_authors)."

  validation {
    condition     = length(var.adapters) >= 1 && alltrue([for id in keys(var.adapters) : can(regex("^[a-z0-9][a-z0-9-]{0,62}$", id))])
    error_message = "adapters needs at least one entry; ids are lower-case letters, digits and dashes."
  }

  validation {
    condition     = alltrue([for model in values(var.adapters) : can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$", model))])
    error_message = "adapters values are registry model paths under models/, such as twin or twin/alice."
  }

  validation {
    condition     = var.serve_adapters || length(var.adapters) == 1
    error_message = "without adapters (serve_adapters = false) the engine serves one merged model: give exactly one entry."
  }
}

variable "serve_adapters" {
  type        = bool
  description = "Serve the base with LoRA adapters (TGI LORA_ADAPTERS, vLLM --enable-lora); false serves the one adapter's merged export, for versions trained without LoRA."
  default     = true
}

variable "api_image" {
  type        = string
  description = "Image built from infra/docker/serving (runs `twin serve`), pinned to a tag or digest."

  validation {
    condition     = !endswith(var.api_image, ":latest") && can(regex(":[^/]+$", var.api_image))
    error_message = "api_image must carry an explicit tag other than latest."
  }
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
  description = "Engine settings: token limits (vLLM's max model length is max_total_tokens), quantization in the engine's own terms (null for none), GPUs per replica (shards / tensor parallel), CPU/memory, local disk for the base and adapters, the largest LoRA rank served."
  default = {
    max_input_tokens = 3072
    max_total_tokens = 4096
  }

  validation {
    condition     = var.engine.max_input_tokens >= 1 && var.engine.max_input_tokens < var.engine.max_total_tokens
    error_message = "engine.max_input_tokens must be positive and smaller than engine.max_total_tokens."
  }

  validation {
    condition = var.engine.quantize == null || contains(
      var.serving_engine == "vllm"
      ? ["awq", "awq_marlin", "gptq", "gptq_marlin", "bitsandbytes", "fp8", "compressed-tensors"]
      : ["awq", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "eetq", "exl2", "fp8", "gptq", "marlin"],
      coalesce(var.engine.quantize, "none"),
    )
    error_message = "engine.quantize must be null or a method of the chosen engine: TGI awq, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4, eetq, exl2, fp8, gptq, marlin; vLLM awq, awq_marlin, gptq, gptq_marlin, bitsandbytes, fp8, compressed-tensors."
  }

  validation {
    condition     = contains([1, 2, 4, 8], var.engine.gpus)
    error_message = "engine.gpus must be 1, 2, 4 or 8."
  }

  validation {
    condition     = contains([8, 16, 32, 64, 128, 256], var.engine.max_lora_rank)
    error_message = "engine.max_lora_rank must be 8, 16, 32, 64, 128 or 256 (vLLM's supported ranks)."
  }
}

variable "scale_to_zero" {
  type        = bool
  description = "Let the engine scale to zero replicas when idle; the first request then waits for a GPU node and model load (minutes)."
  default     = false
}

variable "min_replicas" {
  type        = number
  description = "Engine replicas kept warm when scale_to_zero is false."
  default     = 1

  validation {
    condition     = var.min_replicas >= 1
    error_message = "min_replicas must be at least 1 (use scale_to_zero for 0)."
  }
}

variable "max_replicas" {
  type        = number
  description = "Upper bound of engine replicas (each holds engine.gpus GPUs)."
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
  description = "In-flight requests per engine replica before KEDA adds one."
  default     = 8

  validation {
    condition     = var.target_concurrent_requests >= 1
    error_message = "target_concurrent_requests must be at least 1."
  }
}

variable "scale_down_period_seconds" {
  type        = number
  description = "Idle seconds before the engine scales down (to zero when allowed)."
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
  description = "Service account allowed to roll the engine deployment after a promotion (Dagster's)."
}
