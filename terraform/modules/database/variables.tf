################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the database."
  type        = bool
  default     = true
}

variable "name" {
  description = "Identifier of the DB instance and prefix for related resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,50}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be a valid RDS identifier: lowercase, starts with a letter, no trailing or double hyphen, at most 52 characters (room for -replica-N)."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

variable "is_production" {
  description = "Enforce production guardrails (Multi-AZ, backup retention >= 14 days) as preconditions."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of the KMS key for storage, Performance Insights, the master secret and log groups."
  type        = string
}

################################################################################
# Connection budget
################################################################################

variable "client_max_tasks" {
  description = "Most application tasks that can run at once (all services, including the extra tasks of a rolling deployment)."
  type        = number

  validation {
    condition     = var.client_max_tasks >= 1
    error_message = "client_max_tasks must be at least 1."
  }
}

variable "client_pool_size_per_task" {
  description = "Database connection pool size of one application task."
  type        = number

  validation {
    condition     = var.client_pool_size_per_task >= 1 && var.client_pool_size_per_task <= 100
    error_message = "client_pool_size_per_task must be between 1 and 100."
  }
}

variable "reserved_connections" {
  description = "Connections kept free for superuser/maintenance sessions when no RDS Proxy is used."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_connections >= 3
    error_message = "reserved_connections must be at least 3 (PostgreSQL superuser_reserved_connections)."
  }
}

variable "max_connections_override" {
  description = "max_connections of the instance when instance_class is not in the module's lookup table (or the parameter group overrides it)."
  type        = number
  default     = null

  validation {
    condition     = var.max_connections_override == null || try(var.max_connections_override >= 10, false)
    error_message = "max_connections_override must be null or at least 10."
  }
}

################################################################################
# Maintenance windows
################################################################################

variable "backup_window" {
  description = "Daily backup window, UTC, hh24:mi-hh24:mi, at least 30 minutes. Must not overlap maintenance_window (checked by a precondition)."
  type        = string
  default     = "02:00-03:00"

  validation {
    condition     = can(regex("^([01]\\d|2[0-3]):[0-5]\\d-([01]\\d|2[0-3]):[0-5]\\d$", var.backup_window))
    error_message = "backup_window must look like 02:00-03:00 (UTC)."
  }
}

variable "maintenance_window" {
  description = "Weekly maintenance window, UTC, ddd:hh24:mi-ddd:hh24:mi."
  type        = string
  default     = "sun:04:00-sun:05:00"

  validation {
    condition     = can(regex("^(mon|tue|wed|thu|fri|sat|sun):([01]\\d|2[0-3]):[0-5]\\d-(mon|tue|wed|thu|fri|sat|sun):([01]\\d|2[0-3]):[0-5]\\d$", lower(var.maintenance_window)))
    error_message = "maintenance_window must look like sun:04:00-sun:05:00 (UTC)."
  }
}

################################################################################
# Networking
################################################################################

variable "vpc_id" {
  description = "ID of the VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Private data subnet IDs (at least two AZs) for the DB subnet group and RDS Proxy."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "At least two subnets in different AZs are required for a DB subnet group."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to reach the database and the proxy, keyed by a static label (e.g. { service = sg-... })."
  type        = map(string)
  default     = {}
}

################################################################################
# Parameter group
################################################################################

variable "slow_query_threshold_ms" {
  description = "Queries slower than this are logged (log_min_duration_statement / long_query_time)."
  type        = number
  default     = 500

  validation {
    condition     = var.slow_query_threshold_ms >= 0
    error_message = "slow_query_threshold_ms must be >= 0."
  }
}

################################################################################
# Monitoring
################################################################################

variable "log_retention_in_days" {
  description = "Retention of the exported database logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts."
  }
}

variable "monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds (0 disables it)."
  type        = number
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "performance_insights_enabled" {
  description = "Enable Performance Insights (7 days retention is free)."
  type        = bool
  default     = true
}

################################################################################
# DB instance
################################################################################

variable "engine" {
  description = "Database engine."
  type        = string
  default     = "postgres"

  validation {
    condition     = contains(["postgres", "mysql"], var.engine)
    error_message = "engine must be postgres or mysql."
  }
}

variable "engine_version" {
  description = "Engine major version (16 for postgres, 8.0 for mysql): RDS applies minor upgrades itself (auto_minor_version_upgrade). A minor release (16.4, 8.0.39) is accepted only with auto_minor_version_upgrade = false."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^\\d+(\\.\\d+){0,2}$", var.engine_version))
    error_message = "engine_version must be numeric, e.g. 16 or 8.0 (or 16.4 / 8.0.39 with auto_minor_version_upgrade = false)."
  }
}

variable "auto_minor_version_upgrade" {
  description = "Let RDS apply minor engine upgrades in the maintenance window (engine_version then names the major version only)."
  type        = bool
  default     = true
}

variable "instance_class" {
  description = "DB instance class."
  type        = string
  default     = "db.m7g.large"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must be an RDS class such as db.t4g.small."
  }
}

variable "allocated_storage" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 50

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "max_allocated_storage" {
  description = "Upper limit for storage autoscaling in GiB (must exceed allocated_storage)."
  type        = number
  default     = 200
}

variable "db_name" {
  description = "Name of the application database."
  type        = string
  default     = "modelserve"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must start with a letter and contain only letters, digits and underscores."
  }
}

variable "master_username" {
  description = "Master user name, for administration only (applications use app_username). Its password is generated and kept in Secrets Manager: by RDS, or by the stack when there are read replicas."
  type        = string
  default     = "modelserve_admin"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,15}$", var.master_username)) && !contains(["admin", "postgres", "rdsadmin", "root"], lower(var.master_username))
    error_message = "master_username must be 1-16 letters/digits/underscores starting with a letter, and not a reserved name."
  }
}

variable "master_password_version" {
  description = "Version of the stack-managed master password (only with read replicas, where RDS cannot manage it): raise it to write a new generated password to the instance and its secret."
  type        = number
  default     = 1
}

variable "app_username" {
  description = "Database role the application connects as, with IAM authentication (created once with SQL, see docs/RUNBOOK.md)."
  type        = string
  default     = "modelserve_app"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,31}$", var.app_username))
    error_message = "app_username must be 1-32 lowercase letters, digits or underscores, starting with a letter."
  }
}

variable "read_username" {
  description = "Read-only database role the application reads the replicas as, with IAM authentication only (created once with SQL, see docs/RUNBOOK.md)."
  type        = string
  default     = "modelserve_reader"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,31}$", var.read_username))
    error_message = "read_username must be 1-32 lowercase letters, digits or underscores, starting with a letter."
  }
}

variable "app_password_version" {
  description = "Version of the application role's generated password, which only RDS Proxy uses: raise it to rotate (then ALTER ROLE as the runbook says)."
  type        = number
  default     = 1
}

variable "multi_az" {
  description = "Run a synchronous standby in another AZ."
  type        = bool
  default     = true
}

variable "backup_retention_period" {
  description = "Days of automated backups (>= 7; >= 14 when is_production)."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_period >= 7 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 7 and 35 days."
  }
}

variable "deletion_protection" {
  description = "Protect the instance (and replicas) from deletion."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot on deletion (tests only)."
  type        = bool
  default     = false
}

variable "apply_immediately" {
  description = "Apply modifications immediately instead of in the maintenance window."
  type        = bool
  default     = false
}

variable "stack_managed_master_password" {
  description = "Generate the master password in the stack (write-only, in its own secret) instead of letting RDS manage it. Required before read replicas exist; switch it in an apply of its own, then add replicas."
  type        = bool
  default     = false
}

variable "replica_count" {
  description = "Number of read replicas."
  type        = number
  default     = 0

  validation {
    condition     = var.replica_count >= 0 && var.replica_count <= 5
    error_message = "replica_count must be between 0 and 5."
  }
}

variable "replica_instance_class" {
  description = "Instance class of the read replicas (defaults to instance_class)."
  type        = string
  default     = null
}

################################################################################
# RDS Proxy
################################################################################

variable "create_proxy" {
  description = "Whether to create an RDS Proxy in front of the primary."
  type        = bool
  default     = true
}

variable "proxy_max_connections_percent" {
  description = "Share of max_connections the proxy may open; the rest stays free for admin sessions and replication."
  type        = number
  default     = 90

  validation {
    condition     = var.proxy_max_connections_percent >= 10 && var.proxy_max_connections_percent <= 95
    error_message = "proxy_max_connections_percent must be between 10 and 95."
  }
}

################################################################################
# Alarms
################################################################################

variable "create_alarms" {
  description = "Whether to create the database alarms."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs notified on alarm and OK."
  type        = list(string)
  default     = []
}

variable "proxy_borrow_latency_alarm_ms" {
  description = "Alarm when clients wait longer than this (ms, average over a minute) to borrow a connection from RDS Proxy's pool."
  type        = number
  default     = 100
}

variable "connections_alarm_percent" {
  description = "Alarm when DatabaseConnections exceeds this percentage of max_connections."
  type        = number
  default     = 80

  validation {
    condition     = var.connections_alarm_percent > 0 && var.connections_alarm_percent < 100
    error_message = "connections_alarm_percent must be between 1 and 99."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary set on the module's IAM roles (terraform/bootstrap's workload boundary). null: none."
  type        = string
  default     = null
}
