variable "namespace" {
  type        = string
  description = "Namespace of training jobs."
  default     = "twin-training"
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster name (pod identity association)."
}

variable "role_arn" {
  type        = string
  description = "IAM role of training pods: read datasets/, write models/ (iam module's training role)."
}

variable "app_config" {
  type        = map(string)
  description = "Non-secret environment of training containers (twin-config)."
}

variable "secret_store_name" {
  type        = string
  description = "ClusterSecretStore for AWS Secrets Manager."
}

variable "app_secret_name" {
  type        = string
  description = "Secrets Manager name of the application secret."
}

variable "image" {
  type        = string
  description = "Training image built from infra/docker/training (CUDA + DeepSpeed), pinned to a tag or digest."

  validation {
    condition     = !endswith(var.image, ":latest") && can(regex(":[^/]+$", var.image))
    error_message = "image must carry an explicit tag other than latest."
  }
}

variable "gpus_per_job" {
  type        = number
  description = "GPUs per training job (torchrun processes, one per GPU). Must fit one node of a GPU group."
  default     = 4

  validation {
    condition     = contains([1, 2, 4, 8], var.gpus_per_job)
    error_message = "gpus_per_job must be 1, 2, 4 or 8."
  }
}

variable "max_gpus" {
  type        = number
  description = "Quota: GPUs requested at once by all jobs in the namespace."
  default     = 4

  validation {
    condition     = var.max_gpus >= 1
    error_message = "max_gpus must be at least 1."
  }
}

variable "cpu" {
  type        = string
  description = "CPU request and limit of a training job."
  default     = "40"
}

variable "memory" {
  type        = string
  description = "Memory request and limit of a training job."
  default     = "160Gi"
}

variable "shm_size" {
  type        = string
  description = "Size of /dev/shm (NCCL, DataLoader workers)."
  default     = "16Gi"
}

variable "max_model_params_billion" {
  type        = number
  description = "Parameters (billions) of the largest base model trained here; sizes the Job's scratch for the bf16 base and merged export (see locals)."
  default     = 70

  validation {
    condition     = var.max_model_params_billion > 0 && var.max_model_params_billion <= 405
    error_message = "max_model_params_billion must be between 0 and 405."
  }
}

variable "max_retries" {
  type        = number
  description = "Retries of a failed training pod (Job backoffLimit); each resumes from the newest checkpoint. Pods lost with their node are retried without counting."
  default     = 2

  validation {
    condition     = var.max_retries >= 1 && var.max_retries <= 6
    error_message = "max_retries must be between 1 and 6."
  }
}

variable "max_runtime_seconds" {
  type        = number
  description = "A job running longer is killed (a stuck NCCL collective otherwise bills GPUs forever)."
  default     = 43200

  validation {
    condition     = var.max_runtime_seconds >= 600
    error_message = "max_runtime_seconds must be at least 600."
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

variable "launcher_service_account" {
  type = object({
    name      = string
    namespace = string
  })
  description = "Service account that creates training jobs (Dagster's)."
}
