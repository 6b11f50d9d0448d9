################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the backup vault, plan and selection."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the vault, plan and selection."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{2,50}$", var.name))
    error_message = "name must be 2-50 letters, digits, hyphens or underscores."
  }
}

variable "tags" {
  description = "Additional tags for all resources (also copied to recovery points)."
  type        = map(string)
  default     = {}
}

################################################################################
# Vault
################################################################################

variable "kms_key_arn" {
  description = "ARN of the KMS key encrypting recovery points."
  type        = string
}

################################################################################
# Plan
################################################################################

variable "schedule" {
  description = "Cron expression of the daily backup (UTC)."
  type        = string
  default     = "cron(0 5 * * ? *)"

  validation {
    condition     = can(regex("^cron\\(.+\\)$", var.schedule))
    error_message = "schedule must be a cron() expression."
  }
}

variable "retention_days" {
  description = "Days recovery points are kept."
  type        = number
  default     = 35

  validation {
    condition     = var.retention_days >= 7
    error_message = "retention_days must be at least 7."
  }
}

################################################################################
# Selection
################################################################################

variable "max_retention_days" {
  description = "Vault Lock: the longest a recovery point may be kept (days)."
  type        = number
  default     = 365
}

variable "lock_changeable_for_days" {
  description = "Vault Lock in compliance mode after this many days (>= 3; irreversible afterwards). null: governance mode, which a privileged principal can lift."
  type        = number
  default     = null

  validation {
    condition     = var.lock_changeable_for_days == null || try(var.lock_changeable_for_days >= 3, false)
    error_message = "lock_changeable_for_days must be null or at least 3."
  }
}

variable "copy_region" {
  description = "Region every recovery point is copied to (a vault and a key of its own there, through the aws.copy provider). null: no copy."
  type        = string
  default     = null
}

variable "resource_arns" {
  description = "ARNs of the resources to back up (DB instance, S3 buckets)."
  type        = list(string)
  default     = []
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary set on the module's IAM roles (terraform/bootstrap's workload boundary). null: none."
  type        = string
  default     = null
}
