################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the alarm topic, alarms and dashboard."
  type        = bool
  default     = true
}

variable "name" {
  description = "Prefix of alarm names, topic and dashboard name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name))
    error_message = "name must contain only letters, digits, hyphens and underscores."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

################################################################################
# Alarm topic
################################################################################

variable "kms_key_arn" {
  description = "ARN of the KMS key encrypting the SNS topic (its policy must allow cloudwatch.amazonaws.com)."
  type        = string
  default     = null
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_email_addresses must be valid e-mail addresses."
  }
}

################################################################################
# Load balancer alarms
################################################################################

variable "enable_alb_alarms" {
  description = "Create ALB alarms and widgets (requires alb_arn_suffix and target_group_arn_suffix)."
  type        = bool
  default     = true
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB."
  type        = string
  default     = null
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the API target group."
  type        = string
  default     = null
}

variable "error_rate_slo_percent" {
  description = "The service level objective for errors: the largest share of requests (%) that may fail with a 5xx. The 5xx alarm must fire below it."
  type        = number
  default     = 5

  validation {
    condition     = var.error_rate_slo_percent > 0 && var.error_rate_slo_percent < 100
    error_message = "error_rate_slo_percent must be between 0 and 100."
  }
}

variable "alb_5xx_rate_threshold_percent" {
  description = "Alarm when the 5xx share of requests exceeds this percentage; below error_rate_slo_percent, so someone is told before the objective is missed."
  type        = number
  default     = 2

  validation {
    condition     = var.alb_5xx_rate_threshold_percent > 0 && var.alb_5xx_rate_threshold_percent < 100
    error_message = "alb_5xx_rate_threshold_percent must be between 0 and 100."
  }
}

variable "alb_5xx_min_requests_per_minute" {
  description = "Requests a minute below which the 5xx-rate alarm reads the minute as 0%: at night, 1 failed request of 20 is 5% and would page for nothing."
  type        = number
  default     = 50

  validation {
    condition     = var.alb_5xx_min_requests_per_minute >= 1
    error_message = "alb_5xx_min_requests_per_minute must be at least 1."
  }
}

variable "p99_latency_threshold_seconds" {
  description = "Alarm when p99 TargetResponseTime exceeds this many seconds."
  type        = number
  default     = 2

  validation {
    condition     = var.p99_latency_threshold_seconds > 0
    error_message = "p99_latency_threshold_seconds must be positive."
  }
}

################################################################################
# Service alarms
################################################################################

variable "enable_ecs_alarms" {
  description = "Create ECS service alarms and widgets."
  type        = bool
  default     = true
}

variable "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  type        = string
  default     = null
}

variable "ecs_service_names" {
  description = "ECS service names keyed by a static label (api, worker)."
  type        = map(string)
  default     = {}
}

variable "ecs_cpu_threshold_percent" {
  description = "Alarm when a service's average CPU exceeds this."
  type        = number
  default     = 85

  validation {
    condition     = var.ecs_cpu_threshold_percent > 0 && var.ecs_cpu_threshold_percent <= 100
    error_message = "ecs_cpu_threshold_percent must be between 1 and 100."
  }
}

variable "ecs_memory_threshold_percent" {
  description = "Alarm when a service's average memory exceeds this."
  type        = number
  default     = 85

  validation {
    condition     = var.ecs_memory_threshold_percent > 0 && var.ecs_memory_threshold_percent <= 100
    error_message = "ecs_memory_threshold_percent must be between 1 and 100."
  }
}

################################################################################
# Database alarms
################################################################################

variable "enable_rds_alarms" {
  description = "Create RDS alarms and widgets."
  type        = bool
  default     = true
}

variable "db_instance_identifier" {
  description = "Identifier of the primary DB instance."
  type        = string
  default     = null
}

variable "db_replica_identifiers" {
  description = "Identifiers of the primary's read replicas; each gets its own CPU, storage and lag alarms."
  type        = list(string)
  default     = []
}

variable "rds_replica_lag_threshold_seconds" {
  description = "Alarm when a read replica lags its primary by more than this for 10 minutes."
  type        = number
  default     = 60
}

variable "rds_cpu_threshold_percent" {
  description = "Alarm when database CPU exceeds this for 15 minutes."
  type        = number
  default     = 80

  validation {
    condition     = var.rds_cpu_threshold_percent > 0 && var.rds_cpu_threshold_percent <= 100
    error_message = "rds_cpu_threshold_percent must be between 1 and 100."
  }
}

variable "rds_free_storage_threshold_gib" {
  description = "Alarm when free storage drops below this many GiB."
  type        = number
  default     = 10

  validation {
    condition     = var.rds_free_storage_threshold_gib > 0
    error_message = "rds_free_storage_threshold_gib must be positive."
  }
}

################################################################################
# Dashboard
################################################################################

variable "create_dashboard" {
  description = "Whether to create the CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "queue_name" {
  description = "Name of the jobs queue (dashboard)."
  type        = string
  default     = null
}

variable "dlq_name" {
  description = "Name of the dead-letter queue (dashboard)."
  type        = string
  default     = null
}
