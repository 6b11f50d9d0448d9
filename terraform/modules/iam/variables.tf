################################################################################
# General
################################################################################

variable "name" {
  description = "Prefix of the role names."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,45}$", var.name))
    error_message = "name must be 1-45 IAM-name characters (role names add up to 19 characters, limit 64)."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "ARN of the stack KMS key (S3, SQS, secret encryption)."
  type        = string
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary set on every role of the module (terraform/bootstrap's workload boundary: the CI apply role may only create roles that carry it). null: none."
  type        = string
  default     = null
}

################################################################################
# Task execution role
################################################################################

variable "create_task_roles" {
  description = "Whether to create the ECS task execution role and the API/worker task roles."
  type        = bool
  default     = true
}

variable "worker_cluster_name" {
  description = "ECS cluster the worker runs in: its task role may set scale-in protection on that cluster's tasks (null: no such permission)."
  type        = string
  default     = null
}

variable "ecr_repository_arns" {
  description = "ARNs of the ECR repositories holding the application image (a list so its length is known at plan time)."
  type        = list(string)
  default     = []
}

variable "log_group_arns" {
  description = "ARNs of the container log groups the tasks write to."
  type        = list(string)
  default     = []
}

variable "api_database_connect_arns" {
  description = "rds-db:connect resources (dbuser ARNs) the API tasks authenticate to the database with: IAM tokens instead of a password."
  type        = list(string)
  default     = []
}

variable "api_cache_connect_arns" {
  description = "elasticache:Connect resources of the API (the replication group and its Redis user, IAM authentication)."
  type        = list(string)
  default     = []
}

variable "worker_database_connect_arns" {
  description = "rds-db:connect resources for the worker tasks (empty unless the worker uses the database)."
  type        = list(string)
  default     = []
}

################################################################################
# Task roles
################################################################################

variable "models_bucket_arn" {
  description = "ARN of the models bucket."
  type        = string
  default     = null
}

variable "uploads_bucket_arn" {
  description = "ARN of the uploads bucket (uploads and job results)."
  type        = string
  default     = null
}

variable "models_prefix" {
  description = "Key prefix of the models in the models bucket."
  type        = string
  default     = "models/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+/$", var.models_prefix))
    error_message = "models_prefix must be a single path segment ending with /."
  }
}

variable "uploads_prefix" {
  description = "Key prefix of client uploads in the uploads bucket."
  type        = string
  default     = "uploads/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+/$", var.uploads_prefix))
    error_message = "uploads_prefix must be a single path segment ending with /."
  }
}

variable "results_prefix" {
  description = "Key prefix of job results in the uploads bucket."
  type        = string
  default     = "results/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+/$", var.results_prefix))
    error_message = "results_prefix must be a single path segment ending with /."
  }
}

variable "queue_arn" {
  description = "ARN of the jobs queue."
  type        = string
  default     = null
}

################################################################################
# GitHub Actions OIDC
################################################################################

variable "create_github_oidc" {
  description = "Whether to create the GitHub Actions deploy role (and the OIDC provider unless github_oidc_provider_arn is set)."
  type        = bool
  default     = true
}

variable "github_oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com provider, when it is not this account's (see create_github_oidc_provider)."
  type        = string
  default     = null
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (one per account). false when terraform/bootstrap created it with the CI roles: the deploy role then trusts this account's provider by its ARN."
  type        = bool
  default     = true
}

variable "github_oidc_thumbprints" {
  description = "Thumbprints of the GitHub OIDC endpoint's certificate chain. AWS now validates GitHub tokens against its own trusted CAs and ignores these, but the API still requires at least one."
  type        = list(string)
  default     = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]

  validation {
    condition     = length(var.github_oidc_thumbprints) >= 1 && alltrue([for t in var.github_oidc_thumbprints : can(regex("^[0-9a-f]{40}$", t))])
    error_message = "github_oidc_thumbprints must be 40-character lowercase hex SHA-1 thumbprints."
  }
}

variable "github_repository" {
  description = "GitHub repository (owner/name) allowed to assume the deploy role."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository == null || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name without wildcards."
  }
}

variable "github_branch" {
  description = "Branch whose workflows may assume the deploy role."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.github_branch))
    error_message = "github_branch must be a branch name without wildcards."
  }
}

variable "github_environment" {
  description = "GitHub environment (with protection rules) whose jobs may assume the deploy role."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+$", var.github_environment))
    error_message = "github_environment must be an environment name without wildcards."
  }
}

variable "deploy_assets" {
  description = "Whether the deploy role syncs static assets (assets_bucket_arn) and invalidates their distribution (cloudfront_distribution_arn)."
  type        = bool
  default     = false
}

variable "assets_bucket_arn" {
  description = "Static assets bucket the deploy role syncs (with deploy_assets)."
  type        = string
  default     = null
}

variable "cloudfront_distribution_arn" {
  description = "Assets distribution the deploy role invalidates after a sync (with deploy_assets)."
  type        = string
  default     = null
}

variable "ecs_service_arns" {
  description = "ARNs of the ECS services the deploy role may update."
  type        = list(string)
  default     = []
}
