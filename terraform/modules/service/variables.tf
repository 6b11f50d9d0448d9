################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the ECS cluster and services."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the cluster and prefix of services, task families and log groups."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,200}$", var.name))
    error_message = "name must contain only letters, digits, hyphens and underscores."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

variable "image_repository_url" {
  description = "ECR repository URL of the application image (required when create = true)."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Image tag to deploy. Never \"latest\": tags are immutable and a deployment must name exactly what runs."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && lower(var.image_tag) != "latest"
    error_message = "image_tag must be a valid Docker tag and must not be \"latest\"."
  }
}

variable "container_port" {
  description = "Port the API container listens on (APP_PORT)."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535
    error_message = "container_port must be 1024-65535: the container runs as uid 10001 and cannot bind privileged ports."
  }
}

variable "health_check_path" {
  description = "HTTP path of the health endpoint (HEALTH_PATH); the ALB target group checks the same path."
  type        = string
  default     = "/health"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._~/-]*$", var.health_check_path))
    error_message = "health_check_path must be a plain absolute path such as /health."
  }
}

variable "keepalive_seconds" {
  description = "Seconds the API's HTTP server keeps an idle connection open (HTTP_KEEPALIVE_SECONDS); must exceed the load balancer's idle timeout. null leaves the app's default."
  type        = number
  default     = null

  validation {
    condition     = var.keepalive_seconds == null || try(var.keepalive_seconds > 0, false)
    error_message = "keepalive_seconds must be positive."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image (X86_64 or ARM64)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

################################################################################
# Cluster
################################################################################

# No inputs beyond the name: Container Insights is always on.

################################################################################
# Security group
################################################################################

variable "vpc_id" {
  description = "ID of the VPC."
  type        = string
  default     = null
}

variable "ingress_security_group_ids" {
  description = "Security groups allowed to reach the container port (the ALB), keyed by a static label."
  type        = map(string)
  default     = {}
}

variable "egress_security_group_rules" {
  description = "Additional egress to security groups (database proxy, cache), keyed by a static label."
  type = map(object({
    security_group_id = string
    port              = number
  }))
  default = {}
}

variable "worker_egress_security_group_rules" {
  description = "Data stores the worker tasks may reach: name => { security_group_id, port } (none unless the worker uses one)."
  type = map(object({
    security_group_id = string
    port              = number
  }))
  default = {}
}

################################################################################
# Logs
################################################################################

variable "kms_key_arn" {
  description = "ARN of the KMS key encrypting the log groups."
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "Retention of container logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts."
  }
}

################################################################################
# Task definitions
################################################################################

variable "execution_role_arn" {
  description = "ARN of the task execution role (image pull, logs, secret injection)."
  type        = string
  default     = null
}

variable "api_task_role_arn" {
  description = "ARN of the API task role."
  type        = string
  default     = null
}

variable "worker_task_role_arn" {
  description = "ARN of the worker task role."
  type        = string
  default     = null
}

variable "api_cpu" {
  description = "CPU units of an API task."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.api_cpu)
    error_message = "api_cpu must be a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192, 16384)."
  }
}

variable "api_memory" {
  description = "Memory (MiB) of an API task."
  type        = number
  default     = 1024
}

variable "worker_cpu" {
  description = "CPU units of a worker task."
  type        = number
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.worker_cpu)
    error_message = "worker_cpu must be a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192, 16384)."
  }
}

variable "worker_memory" {
  description = "Memory (MiB) of a worker task."
  type        = number
  default     = 2048
}

variable "api_environment" {
  description = "Environment of the API container (APP_PORT, HEALTH_PATH and AWS_REGION are added). Never put secrets here: use api_secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = length([for k in keys(var.api_environment) : k if can(regex("(?i)(PASSWORD|SECRET|TOKEN)", k))]) == 0
    error_message = "api_environment must not contain PASSWORD/SECRET/TOKEN variables; pass them through api_secrets (Secrets Manager)."
  }
}

variable "api_secrets" {
  description = "Secrets injected into the API container: variable name => Secrets Manager (or SSM) ARN."
  type        = map(string)
  default     = {}
}

variable "worker_environment" {
  description = "Environment of the worker container (AWS_REGION is added). Never put secrets here: use worker_secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = length([for k in keys(var.worker_environment) : k if can(regex("(?i)(PASSWORD|SECRET|TOKEN)", k))]) == 0
    error_message = "worker_environment must not contain PASSWORD/SECRET/TOKEN variables; pass them through worker_secrets."
  }
}

variable "worker_secrets" {
  description = "Secrets injected into the worker container: variable name => Secrets Manager (or SSM) ARN."
  type        = map(string)
  default     = {}
}

################################################################################
# Services
################################################################################

variable "subnet_ids" {
  description = "Private application subnet IDs for the tasks."
  type        = list(string)
  default     = []
}

variable "target_group_arn" {
  description = "ALB target group of the API service."
  type        = string
  default     = null
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores ALB health checks after an API task starts."
  type        = number
  default     = 60

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 2147483647
    error_message = "health_check_grace_period_seconds must be >= 0."
  }
}

variable "worker_on_demand_base" {
  description = "Worker tasks always placed on on-demand FARGATE before the rest go to FARGATE_SPOT."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_on_demand_base >= 0
    error_message = "worker_on_demand_base must be >= 0."
  }
}

################################################################################
# Autoscaling
################################################################################

variable "create_autoscaling" {
  description = "Whether to create Application Auto Scaling targets and policies for both services."
  type        = bool
  default     = true
}

variable "api_scaling" {
  description = "Task counts of the API service."
  type = object({
    min     = number
    max     = number
    desired = number
  })
  default = { min = 2, max = 10, desired = 2 }

  validation {
    condition     = var.api_scaling.min >= 1 && var.api_scaling.min <= var.api_scaling.max
    error_message = "api_scaling.min must be >= 1 and <= max."
  }
}

variable "minimum_api_tasks" {
  description = "Floor for api_scaling.min (2 in production so an AZ loss leaves a serving task)."
  type        = number
  default     = 2

  validation {
    condition     = var.minimum_api_tasks >= 1
    error_message = "minimum_api_tasks must be at least 1."
  }
}

variable "worker_scaling" {
  description = "Task counts of the worker service. min >= 1: the backlog-per-task metric divides by running tasks."
  type = object({
    min     = number
    max     = number
    desired = number
  })
  default = { min = 1, max = 10, desired = 1 }

  validation {
    condition     = var.worker_scaling.min >= 1 && var.worker_scaling.min <= var.worker_scaling.max
    error_message = "worker_scaling.min must be >= 1 and <= max."
  }
}

variable "cpu_target_percent" {
  description = "Target average CPU utilisation of the API service."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "requests_per_target" {
  description = "Target ALB requests per task per minute (ALBRequestCountPerTarget)."
  type        = number
  default     = 1000

  validation {
    condition     = var.requests_per_target > 0
    error_message = "requests_per_target must be positive."
  }
}

variable "alb_request_count_resource_label" {
  description = "Resource label for ALBRequestCountPerTarget: <alb arn suffix>/<target group arn suffix>."
  type        = string
  default     = null
}

variable "jobs_queue_name" {
  description = "Name of the jobs queue the worker consumes (backlog metric)."
  type        = string
  default     = null
}

variable "worker_backlog_per_task" {
  description = "Acceptable jobs waiting per worker task (acceptable latency / average job duration)."
  type        = number
  default     = 10

  validation {
    condition     = var.worker_backlog_per_task > 0
    error_message = "worker_backlog_per_task must be positive."
  }
}

variable "scale_out_cooldown" {
  description = "Seconds after a scale-out before another scale-out."
  type        = number
  default     = 60

  validation {
    condition     = var.scale_out_cooldown >= 0
    error_message = "scale_out_cooldown must be >= 0."
  }
}

variable "scale_in_cooldown" {
  description = "Seconds after a scale-in before another scale-in (longer than scale-out to avoid flapping)."
  type        = number
  default     = 300

  validation {
    condition     = var.scale_in_cooldown >= 0
    error_message = "scale_in_cooldown must be >= 0."
  }
}

variable "scheduled_scaling" {
  description = "Scheduled capacity changes for known peaks."
  type = list(object({
    name     = string
    service  = string # "api" or "worker"
    schedule = string # at(...), rate(...) or cron(...)
    timezone = optional(string, "UTC")
    min      = number
    max      = number
  }))
  default = []

  validation {
    condition     = alltrue([for a in var.scheduled_scaling : contains(["api", "worker"], a.service) && a.min <= a.max && can(regex("^(at|rate|cron)\\(.+\\)$", a.schedule))])
    error_message = "Each scheduled_scaling entry needs service api|worker, min <= max and an at()/rate()/cron() schedule."
  }
}
