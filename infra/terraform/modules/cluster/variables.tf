variable "name" {
  type        = string
  description = "Cluster name and name prefix for its roles."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "EKS Kubernetes minor version."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the control plane ENIs and every node group."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "endpoint_public_access" {
  type        = bool
  description = "Expose the Kubernetes API publicly (restricted to endpoint_public_access_cidrs). Off means Terraform must run from inside the VPC or over VPN."
  default     = false
}

variable "endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach a public API endpoint; never 0.0.0.0/0."
  default     = []

  validation {
    condition     = !contains(var.endpoint_public_access_cidrs, "0.0.0.0/0")
    error_message = "Do not open the Kubernetes API to 0.0.0.0/0."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for Kubernetes secrets envelope encryption and the control-plane log group."

  validation {
    condition     = startswith(var.kms_key_arn, "arn:")
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep control-plane logs."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "system_node_group" {
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    disk_size      = optional(number, 50)
  })
  description = "Always-on CPU nodes: Dagster, Milvus, the API, cluster add-ons."
  default = {
    instance_types = ["m6i.xlarge"]
    min_size       = 2
    max_size       = 6
  }

  validation {
    condition     = alltrue([for t in var.system_node_group.instance_types : can(regex("^[a-z][a-z0-9-]*\\.(nano|micro|small|medium|large|[0-9]*xlarge|metal)$", t))])
    error_message = "system_node_group.instance_types must be EC2 instance types such as m6i.xlarge."
  }

  validation {
    condition     = var.system_node_group.min_size >= 1 && var.system_node_group.min_size <= var.system_node_group.max_size
    error_message = "system_node_group needs 1 <= min_size <= max_size."
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
  description = "GPU node groups keyed by short name. min_size 0 lets each scale to zero when no GPU pod is pending."
  default = {
    # One A10G: TGI replicas and single-GPU fine-tuning.
    a10g-1 = { instance_types = ["g5.2xlarge"], max_size = 2 }
    # Four A10Gs on one node: DeepSpeed multi-GPU training.
    a10g-4 = { instance_types = ["g5.12xlarge"], max_size = 1 }
  }

  validation {
    condition     = alltrue(flatten([for g in var.gpu_node_groups : [for t in g.instance_types : can(regex("^(g4dn|g5|g6|g6e|gr6|p3|p4d|p4de|p5|p5e|p5en)\\.[0-9]*x?large$", t))]]))
    error_message = "gpu_node_groups instance types must be NVIDIA GPU types (g4dn, g5, g6, g6e, gr6, p3, p4d, p4de, p5, p5e, p5en)."
  }

  validation {
    condition     = alltrue([for g in var.gpu_node_groups : g.min_size >= 0 && g.min_size <= g.max_size && g.max_size >= 1])
    error_message = "Each GPU node group needs 0 <= min_size <= max_size and max_size >= 1."
  }

  validation {
    condition     = alltrue([for g in var.gpu_node_groups : contains(["ON_DEMAND", "SPOT"], g.capacity_type)])
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "scale_down_unneeded" {
  type        = string
  description = "How long a node must be idle before the autoscaler removes it (GPU nodes cost by the hour)."
  default     = "10m"

  validation {
    condition     = can(regex("^[0-9]+[smh]$", var.scale_down_unneeded))
    error_message = "scale_down_unneeded must be a duration such as 10m."
  }
}

variable "secrets_role_arn" {
  type        = string
  description = "Role External Secrets Operator assumes to read Secrets Manager (iam module's secrets role)."

  validation {
    condition     = startswith(var.secrets_role_arn, "arn:")
    error_message = "secrets_role_arn must be an ARN."
  }
}

variable "chart_versions" {
  type = object({
    cluster_autoscaler   = string
    nvidia_device_plugin = string
    keda                 = string
    keda_http_add_on     = string
    external_secrets     = string
  })
  description = "Pinned Helm chart versions of the cluster add-ons."
  default = {
    cluster_autoscaler   = "9.46.6"
    nvidia_device_plugin = "0.17.1"
    keda                 = "2.17.1"
    keda_http_add_on     = "0.10.0"
    external_secrets     = "0.18.2"
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
