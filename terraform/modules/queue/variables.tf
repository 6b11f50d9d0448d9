################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the queues."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the jobs queue; the DLQ is <name>-dlq."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,76}$", var.name))
    error_message = "name must be 1-76 characters of [a-zA-Z0-9_-] (80-char SQS limit minus the -dlq suffix)."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

################################################################################
# Queues
################################################################################

variable "kms_key_arn" {
  description = "ARN of the KMS key for SQS server-side encryption."
  type        = string
  default     = null
}

variable "max_job_duration_seconds" {
  description = "Longest time a worker may spend on one job."
  type        = number
  default     = 300

  validation {
    condition     = var.max_job_duration_seconds >= 1 && var.max_job_duration_seconds < 43200
    error_message = "max_job_duration_seconds must be between 1 and 43199."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the jobs queue. Must exceed max_job_duration_seconds."
  type        = number
  default     = 360

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200 (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "How long an unprocessed job stays in the queue."
  type        = number
  default     = 345600 # 4 days

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "max_receive_count" {
  description = "Deliveries before a job is moved to the DLQ."
  type        = number
  default     = 4

  validation {
    condition     = var.max_receive_count >= 3 && var.max_receive_count <= 5
    error_message = "max_receive_count must be 3-5: fewer dead-letters jobs on transient errors, more delays poison-message detection."
  }
}

################################################################################
# Alarms
################################################################################

variable "create_alarms" {
  description = "Whether to create the queue alarms."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs notified on alarm and OK (usually the SNS alarm topic)."
  type        = list(string)
  default     = []
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest job has waited longer than this."
  type        = number
  default     = 600

  validation {
    condition     = var.oldest_message_age_threshold_seconds >= 60
    error_message = "oldest_message_age_threshold_seconds must be at least 60."
  }
}
