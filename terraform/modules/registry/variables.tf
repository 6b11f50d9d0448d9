################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the ECR repository."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

################################################################################
# Repository
################################################################################

variable "name" {
  description = "Name of the ECR repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "name must be a valid ECR repository name (lowercase, digits, . _ - and / separators)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key encrypting images at rest."
  type        = string
  default     = null
}

variable "force_delete" {
  description = "Delete the repository even if it contains images. Keep false outside tests."
  type        = bool
  default     = false
}

################################################################################
# Lifecycle policy
################################################################################

variable "untagged_image_expiry_days" {
  description = "Days after which untagged images are expired."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_image_expiry_days >= 1
    error_message = "untagged_image_expiry_days must be at least 1."
  }
}

variable "max_tagged_images" {
  description = "Number of most recent images to keep."
  type        = number
  default     = 50

  validation {
    condition     = var.max_tagged_images >= 5
    error_message = "max_tagged_images must be at least 5 to keep a rollback window."
  }
}
