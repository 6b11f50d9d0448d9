################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the KMS key."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name used for the key alias (alias/<name>)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,250}$", var.name)) && !startswith(var.name, "aws/")
    error_message = "name must be 1-250 characters of [a-zA-Z0-9/_-] and must not start with aws/ (reserved for AWS managed keys)."
  }
}

variable "tags" {
  description = "Additional tags for all resources (provider default_tags already carry the standard set)."
  type        = map(string)
  default     = {}
}

################################################################################
# KMS key
################################################################################

variable "description" {
  description = "Description of the KMS key."
  type        = string
  default     = "Customer managed key for the model-serving stack"
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion completes."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "rotation_period_in_days" {
  description = "Automatic key rotation period. Rotation is always enabled."
  type        = number
  default     = 365

  validation {
    condition     = var.rotation_period_in_days >= 90 && var.rotation_period_in_days <= 2560
    error_message = "rotation_period_in_days must be between 90 and 2560."
  }
}

variable "allow_cloudfront" {
  description = "Allow CloudFront origin access control (distributions of this account) to decrypt objects encrypted with the key."
  type        = bool
  default     = false
}
