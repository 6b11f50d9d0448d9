################################################################################
# General
################################################################################

variable "project" {
  description = "Project name; prefix of every resource name and the Project tag."
  type        = string
  default     = "stackprobe"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.project))
    error_message = "project must be 3-20 lowercase letters, digits or hyphens (it prefixes names with tight length limits, e.g. ALB 32, S3 63)."
  }
}

variable "environment" {
  description = "Deployment environment. prod enables production guardrails (Multi-AZ DB, >= 14 days backups, >= 2 API tasks)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "owner" {
  description = "Team or person accountable for the stack (Owner tag)."
  type        = string
  default     = "platform-team"

  validation {
    condition     = length(trimspace(var.owner)) > 0
    error_message = "owner must not be empty."
  }
}

variable "cost_center" {
  description = "Cost center charged for the stack (CostCenter tag)."
  type        = string
  default     = "ml-platform"

  validation {
    condition     = length(trimspace(var.cost_center)) > 0
    error_message = "cost_center must not be empty."
  }
}

variable "aws_region" {
  description = "AWS region of the stack."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-\\d$", var.aws_region))
    error_message = "aws_region must look like eu-west-1."
  }
}

variable "log_retention_in_days" {
  description = "Retention of every CloudWatch log group of the stack (flow, container, database, WAF logs)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "iam_permissions_boundary_name" {
  description = "Name of the permissions boundary policy every IAM role of the stack carries: terraform/bootstrap's <prefix>workload-boundary, without which its CI apply role may not create the roles. null: no boundary (an account without the bootstrap)."
  type        = string
  default     = null
}

variable "allow_destroy_for_tests" {
  description = "FOR TESTS ONLY. Turns off deletion protection (RDS, ALB), skips final DB snapshots and lets buckets and the ECR repository be destroyed with their content. Never set in a real environment."
  type        = bool
  default     = false
}

################################################################################
# Encryption
################################################################################

# One customer-managed key for the stack; no inputs (see modules/kms).

################################################################################
# Network
################################################################################

variable "existing_network" {
  description = "Place the stack in an existing VPC instead of creating one: its ID and the subnet IDs of each tier (public for the ALB, private_app for the tasks, private_data for the database and cache; two AZs at least). vpc_cidr, az_count, single_nat_gateway, create_interface_endpoints and flow logs then belong to the network's owner and are not used."
  type = object({
    vpc_id                  = string
    public_subnet_ids       = list(string)
    private_app_subnet_ids  = list(string)
    private_data_subnet_ids = list(string)
  })
  default = null
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "az_count" {
  description = "Availability zones used (3 in production)."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (dev) instead of one per AZ (prod)."
  type        = bool
  default     = false
}

variable "create_interface_endpoints" {
  description = "Create interface VPC endpoints for ECR (api, dkr), CloudWatch Logs and SQS: what the ECS agent and the tasks call, off the NAT gateways."
  type        = bool
  default     = true
}

variable "flow_log_retention_in_days" {
  description = "Retention of the VPC flow logs (CloudWatch Logs), shorter than the application logs': they are for tracing recent incidents."
  type        = number
  default     = 90
}

################################################################################
# Storage
################################################################################

variable "uploads_cors_allowed_origins" {
  description = "Browser origins allowed to upload with pre-signed URLs (https:// only)."
  type        = list(string)
  default     = []
}

################################################################################
# Registry
################################################################################

variable "create_registry" {
  description = "Create the ECR repository. When false, image_repository_url must point at an existing repository."
  type        = bool
  default     = true
}

variable "image_repository_url" {
  description = "Existing image repository URL, used instead of the stack's ECR repository."
  type        = string
  default     = null
}

################################################################################
# Queue
################################################################################

variable "max_job_duration_seconds" {
  description = "Longest expected job. The queue visibility timeout must exceed it."
  type        = number
  default     = 300
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the jobs queue (> max_job_duration_seconds)."
  type        = number
  default     = 360
}

variable "queue_max_receive_count" {
  description = "Deliveries of a job before it is moved to the DLQ (3-5)."
  type        = number
  default     = 4
}

################################################################################
# Database
################################################################################

variable "create_database" {
  description = "Create the RDS database (and its proxy, alarms)."
  type        = bool
  default     = true
}

variable "create_db_proxy" {
  description = "Put RDS Proxy (connection pooling, faster failover) in front of the primary."
  type        = bool
  default     = true
}

variable "db_engine" {
  description = "Database engine: postgres or mysql."
  type        = string
  default     = "postgres"

  validation {
    condition     = contains(["postgres", "mysql"], var.db_engine)
    error_message = "db_engine must be postgres or mysql."
  }
}

variable "db_engine_version" {
  description = "Database engine major version (16 for postgres, 8.0 for mysql; the parameter group family is derived from it). RDS applies minor upgrades itself."
  type        = string
  default     = "16"
}

variable "db_stack_managed_master_password" {
  description = "Generate the master password in the stack (write-only, in its own secret) instead of letting RDS manage and rotate it. Read replicas require it; on a live database switch it in an apply of its own, then raise db_replica_count (docs/RUNBOOK.md, \"Adding read replicas\")."
  type        = bool
  default     = false
}

variable "db_master_password_version" {
  description = "Raise to rotate the stack-generated master password (only used with read replicas, where RDS cannot manage it)."
  type        = number
  default     = 1
}

variable "db_instance_class" {
  description = "DB instance class; its max_connections bounds the connection budget."
  type        = string
  default     = "db.m7g.large"
}

variable "db_allocated_storage" {
  description = "Initial DB storage (GiB)."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling (GiB)."
  type        = number
  default     = 200
}

variable "db_multi_az" {
  description = "Multi-AZ standby (required in prod)."
  type        = bool
  default     = true
}

variable "db_backup_retention_period" {
  description = "Days of automated DB backups (>= 7; >= 14 in prod)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_period >= 7 && var.db_backup_retention_period <= 35
    error_message = "db_backup_retention_period must be between 7 and 35 days."
  }
}

variable "db_backup_window" {
  description = "Daily backup window (UTC, hh24:mi-hh24:mi); must not overlap db_maintenance_window."
  type        = string
  default     = "02:00-03:00"
}

variable "db_maintenance_window" {
  description = "Weekly maintenance window (UTC, ddd:hh24:mi-ddd:hh24:mi)."
  type        = string
  default     = "sun:04:00-sun:05:00"
}

variable "db_replica_count" {
  description = "Number of read replicas (requires db_stack_managed_master_password, applied first)."
  type        = number
  default     = 0

  validation {
    condition     = var.db_replica_count == 0 || var.db_stack_managed_master_password
    error_message = "db_replica_count > 0 requires db_stack_managed_master_password = true: RDS refuses replicas of a primary whose master password it manages. On a live database apply that switch first, then the replicas."
  }
}

variable "db_pool_size_per_task" {
  description = "Connection pool size of one application task; checked against the instance's max_connections."
  type        = number
  default     = 10

  validation {
    condition     = var.db_pool_size_per_task >= 1 && var.db_pool_size_per_task <= 100
    error_message = "db_pool_size_per_task must be between 1 and 100."
  }
}

variable "worker_database_access" {
  description = "Give the worker the DB_* variables, database egress and rds-db:connect; its tasks then count in the connection budget. The reference worker keeps job state in S3 and needs none of it."
  type        = bool
  default     = false
}

################################################################################
# Cache
################################################################################

variable "create_cache" {
  description = "Create an ElastiCache Redis replication group (TLS, KMS at rest)."
  type        = bool
  default     = false
}

variable "cache_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "cache_num_cache_clusters" {
  description = "Redis nodes (1 primary + replicas)."
  type        = number
  default     = 2
}

################################################################################
# Edge
################################################################################

variable "create_edge" {
  description = "Create the ALB, certificate and listeners."
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Public DNS name of the API."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Public Route53 zone of domain_name (and assets_domain_name): the certificates' DNS validation records and the alias records are created there. Required with create_edge unless certificate_arn names an issued certificate."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "An issued ACM certificate for domain_name (DNS managed outside Route53: validate it there first), used instead of requesting one."
  type        = string
  default     = null
}

variable "assets_certificate_arn" {
  description = "An issued ACM certificate in us-east-1 for assets_domain_name, used instead of requesting one."
  type        = string
  default     = null
}

variable "allow_ipv6_ingress" {
  description = "Accept HTTP/HTTPS from ::/0 too."
  type        = bool
  default     = false
}

variable "create_waf" {
  description = "Attach a WAFv2 web ACL (managed rules + per-IP rate limit) to the ALB."
  type        = bool
  default     = true
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes per client IP before WAF blocks."
  type        = number
  default     = 2000
}

variable "waf_rate_limit_exempt_cidrs" {
  description = "IPv4 CIDRs the WAF per-IP rate limit does not count: a load test's generators (loadtest/README.md). Empty in production."
  type        = list(string)
  default     = []
}

variable "create_cloudfront" {
  description = "Serve static assets from a private S3 bucket through CloudFront (origin access control)."
  type        = bool
  default     = false
}

variable "assets_domain_name" {
  description = "DNS name of the assets distribution."
  type        = string
  default     = null
}

################################################################################
# Service
################################################################################

variable "create_service" {
  description = "Create the ECS cluster, API and worker services (and their IAM roles)."
  type        = bool
  default     = true
}

variable "image_tag" {
  description = "Application image tag to deploy (immutable; never \"latest\")."
  type        = string

  validation {
    condition     = lower(var.image_tag) != "latest" && can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid, immutable tag and not \"latest\"."
  }
}

variable "container_port" {
  description = "Port of the API container (APP_PORT)."
  type        = number
  default     = 8080
}

variable "cpu_architecture" {
  description = "CPU architecture of the image (X86_64 or ARM64)."
  type        = string
  default     = "X86_64"
}

variable "api_cpu" {
  description = "CPU units per API task."
  type        = number
  default     = 512
}

variable "api_memory" {
  description = "Memory (MiB) per API task."
  type        = number
  default     = 1024
}

variable "worker_cpu" {
  description = "CPU units per worker task."
  type        = number
  default     = 1024
}

variable "worker_memory" {
  description = "Memory (MiB) per worker task."
  type        = number
  default     = 2048
}

variable "create_autoscaling" {
  description = "Create Application Auto Scaling for both services."
  type        = bool
  default     = true
}

variable "api_scaling" {
  description = "API task counts. In prod min must be >= 2 (one per AZ survives an AZ loss)."
  type = object({
    min     = number
    max     = number
    desired = number
  })
  default = { min = 3, max = 12, desired = 3 }

  validation {
    condition     = var.api_scaling.min >= 1 && var.api_scaling.min <= var.api_scaling.desired && var.api_scaling.desired <= var.api_scaling.max
    error_message = "api_scaling must satisfy 1 <= min <= desired <= max."
  }
}

variable "worker_scaling" {
  description = "Worker task counts (min >= 1)."
  type = object({
    min     = number
    max     = number
    desired = number
  })
  default = { min = 2, max = 10, desired = 2 }

  validation {
    condition     = var.worker_scaling.min >= 1 && var.worker_scaling.min <= var.worker_scaling.desired && var.worker_scaling.desired <= var.worker_scaling.max
    error_message = "worker_scaling must satisfy 1 <= min <= desired <= max."
  }
}

variable "requests_per_target" {
  description = "Target ALB requests per API task per minute."
  type        = number
  default     = 1000
}

variable "worker_backlog_per_task" {
  description = "Target queued jobs per worker task."
  type        = number
  default     = 10
}

variable "scheduled_scaling" {
  description = "Scheduled capacity changes for known peaks (see modules/service)."
  type = list(object({
    name     = string
    service  = string
    schedule = string
    timezone = optional(string, "UTC")
    min      = number
    max      = number
  }))
  default = []

  validation {
    condition = alltrue([
      for action in var.scheduled_scaling :
      action.min <= action.max && action.max <= (action.service == "api" ? var.api_scaling.max : var.worker_scaling.max)
    ])
    error_message = "A scheduled_scaling action's max must not exceed its service's scaling max (api_scaling.max, worker_scaling.max): the connection budget counts those maxima."
  }

  validation {
    condition     = alltrue([for action in var.scheduled_scaling : contains(["api", "worker"], action.service)])
    error_message = "scheduled_scaling service must be api or worker."
  }
}

################################################################################
# IAM
################################################################################

variable "create_github_oidc" {
  description = "Create the GitHub Actions OIDC deploy role (and provider)."
  type        = bool
  default     = true
}

variable "github_oidc_provider_arn" {
  description = "GitHub OIDC provider ARN when it is not this account's (see create_github_oidc_provider)."
  type        = string
  default     = null
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider. false when terraform/bootstrap created it, with the CI plan and apply roles (one provider per account)."
  type        = bool
  default     = true
}

variable "github_repository" {
  description = "GitHub repository (owner/name) allowed to deploy via OIDC."
  type        = string
  default     = null
}

################################################################################
# Observability
################################################################################

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "error_rate_slo_percent" {
  description = "Service level objective: the largest share of requests (%) that may fail with a 5xx. The 5xx alarm fires below it (stackprobe-requirements.yaml states the same number for the harness)."
  type        = number
  default     = 5
}

################################################################################
# Backup
################################################################################

variable "create_backup_plan" {
  description = "Create an AWS Backup vault, daily plan and selection for the database and buckets."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days AWS Backup keeps recovery points (and the Vault Lock's minimum retention)."
  type        = number
  default     = 35
}

variable "backup_copy_region" {
  description = "Region every recovery point is copied to (a vault and a KMS key of the stack there). null: no cross-region copy."
  type        = string
  default     = null

  validation {
    condition     = var.backup_copy_region == null || (can(regex("^[a-z]{2}(-gov)?-[a-z]+-\\d$", var.backup_copy_region)) && var.backup_copy_region != var.aws_region)
    error_message = "backup_copy_region must be another region than aws_region, like eu-central-1."
  }
}

variable "backup_vault_lock_changeable_for_days" {
  description = "Put the backup vaults' Vault Lock in compliance mode after this many days (>= 3; irreversible). null: governance mode."
  type        = number
  default     = null
}
