################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the cache."
  type        = bool
  default     = true
}

variable "name" {
  description = "Replication group ID and name prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 2-40 lowercase characters, start with a letter, no trailing or double hyphen (ElastiCache IDs)."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "ARN of the KMS key for at-rest encryption and the log group."
  type        = string
}

################################################################################
# Networking
################################################################################

variable "vpc_id" {
  description = "ID of the VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Private data subnet IDs."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "At least two subnets are required for a Multi-AZ replication group."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to reach Redis, keyed by a static label."
  type        = map(string)
  default     = {}
}

################################################################################
# Replication group
################################################################################

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Cache node type."
  type        = string
  default     = "cache.t4g.small"

  validation {
    condition     = startswith(var.node_type, "cache.")
    error_message = "node_type must be an ElastiCache node type such as cache.r7g.large."
  }
}

variable "num_cache_clusters" {
  description = "Nodes in the replication group (1 primary + replicas, spread over AZs)."
  type        = number
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 2 && var.num_cache_clusters <= 6
    error_message = "num_cache_clusters must be between 2 and 6: Multi-AZ automatic failover needs at least one replica."
  }
}

variable "snapshot_retention_limit" {
  description = "Days of automatic snapshots (0 disables)."
  type        = number
  default     = 7

  validation {
    condition     = var.snapshot_retention_limit >= 0 && var.snapshot_retention_limit <= 35
    error_message = "snapshot_retention_limit must be between 0 and 35."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the slow log."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts."
  }
}

################################################################################
# Alarms
################################################################################

variable "create_alarms" {
  description = "Whether to create the per-node alarms."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs notified on alarm and OK."
  type        = list(string)
  default     = []
}

variable "engine_cpu_alarm_percent" {
  description = "Alarm when a node's Redis engine thread exceeds this CPU percentage."
  type        = number
  default     = 80
}

variable "memory_alarm_percent" {
  description = "Alarm when a node's DatabaseMemoryUsagePercentage exceeds this."
  type        = number
  default     = 80
}
