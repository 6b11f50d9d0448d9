################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the buckets."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix for the buckets (<name>-<purpose>-<account id>)."
  type        = string

  validation {
    # 63-char bucket limit minus "-uploads-" (9) and the 12-digit account ID.
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$", var.name))
    error_message = "name must be 3-42 lowercase alphanumeric characters or hyphens (S3 bucket naming rules)."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

variable "force_destroy" {
  description = "Allow destroying buckets that still contain objects. Keep false outside tests."
  type        = bool
  default     = false
}

################################################################################
# Logs bucket
################################################################################

variable "logs_expiration_days" {
  description = "Days after which ALB and S3 access logs are deleted."
  type        = number
  default     = 365

  validation {
    condition     = var.logs_expiration_days > 30
    error_message = "logs_expiration_days must be greater than 30 (the STANDARD_IA transition day)."
  }
}

################################################################################
# Data buckets
################################################################################

variable "kms_key_arn" {
  description = "ARN of the KMS key for SSE-KMS on the data buckets."
  type        = string
  default     = null
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "assets_archive_days" {
  description = "Days the previous versions of static assets (replaced or deleted by a deploy's sync) are archived before they expire."
  type        = number
  default     = 365

  validation {
    condition     = var.assets_archive_days > 90
    error_message = "assets_archive_days must be greater than 90 (they move to GLACIER_IR at 90 days)."
  }
}

variable "uploads_transition_days" {
  description = "Days after which uploads move to STANDARD_IA (S3 requires at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.uploads_transition_days >= 30
    error_message = "uploads_transition_days must be at least 30: S3 rejects STANDARD_IA transitions earlier than that."
  }
}

variable "uploads_expiration_days" {
  description = "Days after which uploads and job results expire."
  type        = number
  default     = 90

  validation {
    condition     = var.uploads_expiration_days > 30
    error_message = "uploads_expiration_days must be greater than 30 (and than uploads_transition_days)."
  }
}

variable "uploads_cors_allowed_origins" {
  description = "Browser origins allowed to PUT to the uploads bucket with pre-signed URLs. Empty disables CORS."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.uploads_cors_allowed_origins : can(regex("^https://[^*]+$", o))])
    error_message = "uploads_cors_allowed_origins must be explicit https:// origins without wildcards."
  }
}

variable "create_assets_bucket" {
  description = "Whether to create the static assets bucket served by CloudFront."
  type        = bool
  default     = false
}

variable "assets_cloudfront_distribution_arn" {
  description = "ARN of the CloudFront distribution allowed to read the assets bucket (origin access control)."
  type        = string
  default     = null
}
