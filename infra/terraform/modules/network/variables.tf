variable "name" {
  type        = string
  description = "Name prefix for every resource, e.g. llm-twin-prod."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "cidr_block" {
  type        = string
  description = "VPC CIDR; a /16 leaves room for the /20 private subnets EKS pods draw IPs from."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 16
    error_message = "cidr_block must be a valid IPv4 CIDR of size /16 or larger."
  }
}

variable "az_count" {
  type        = number
  description = "How many availability zones to spread subnets over (EKS needs at least 2)."
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all AZs (cheaper, one AZ failure cuts egress) instead of one per AZ."
  default     = false
}

variable "interface_endpoints" {
  type        = list(string)
  description = "AWS services reached through interface endpoints (each costs about 7 USD/month per AZ)."
  default     = ["ecr.api", "ecr.dkr", "sts", "secretsmanager", "logs", "eks-auth"]
}

variable "flow_log_bucket_arn" {
  type        = string
  description = "ARN of the access-log bucket that receives VPC flow logs."

  validation {
    condition     = startswith(var.flow_log_bucket_arn, "arn:")
    error_message = "flow_log_bucket_arn must be an ARN."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
