################################################################################
# Encryption
################################################################################

output "kms_key_arn" {
  description = "ARN of the stack's customer-managed KMS key."
  value       = module.kms.key_arn
}

################################################################################
# Network
################################################################################

output "vpc_id" {
  description = "ID of the VPC."
  value       = module.network.vpc_id
}

################################################################################
# Storage
################################################################################

output "models_bucket" {
  description = "Name of the models bucket (MODELS_BUCKET)."
  value       = module.storage.models_bucket_id
}

output "uploads_bucket" {
  description = "Name of the uploads/results bucket (UPLOADS_BUCKET)."
  value       = module.storage.uploads_bucket_id
}

output "logs_bucket" {
  description = "Name of the access-logs bucket (ALB and S3 server access logs)."
  value       = module.storage.logs_bucket_id
}

################################################################################
# Registry
################################################################################

output "ecr_repository_url" {
  description = "URL of the ECR repository to push the application image to (null when create_registry = false)."
  value       = try(module.registry.repository_url, null)
}

################################################################################
# Queue
################################################################################

output "jobs_queue_url" {
  description = "URL of the jobs queue (JOBS_QUEUE_URL)."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "URL of the jobs dead-letter queue."
  value       = module.queue.dlq_url
}

################################################################################
# Database
################################################################################

output "db_instance_identifier" {
  description = "Identifier of the primary DB instance (null when create_database = false)."
  value       = try(module.database.db_instance_identifier, null)
}

output "db_proxy_endpoint" {
  description = "Endpoint of the RDS Proxy, the DB_HOST of the application (null without proxy)."
  value       = try(module.database.proxy_endpoint, null)
}

output "db_master_secret_arn" {
  description = "ARN of the secret with the database master credentials (RDS-managed, or the stack's with read replicas): for administrators; no task reads it."
  value       = try(module.database.master_secret_arn, null)
}

output "db_app_username" {
  description = "Database role the tasks connect as, with IAM authentication (create it once: docs/RUNBOOK.md)."
  value       = var.create_database ? module.database.app_username : null
}

output "db_connection_budget" {
  description = "Connection budget check: demand (tasks x pool) against the budget derived from max_connections."
  value = var.create_database ? {
    max_connections = module.database.max_connections
    budget          = module.database.connection_budget
    demand          = module.database.client_connection_demand
  } : null
}

################################################################################
# Cache
################################################################################

output "cache_primary_endpoint" {
  description = "Primary endpoint of the Redis replication group (null when create_cache = false)."
  value       = try(module.cache.primary_endpoint_address, null)
}

################################################################################
# Edge
################################################################################

output "alb_dns_name" {
  description = "DNS name of the ALB (null when create_edge = false)."
  value       = try(module.edge.alb_dns_name, null)
}

output "alb_arn" {
  description = "ARN of the ALB."
  value       = try(module.edge.alb_arn, null)
}

output "target_group_arn" {
  description = "ARN of the API target group."
  value       = try(module.edge.target_group_arn, null)
}

output "certificate_validation_records" {
  description = "DNS records to publish for ACM validation when route53_zone_id is null."
  value       = try(module.edge.validation_records, [])
}

output "assets_bucket" {
  description = "Name of the static assets bucket the deploy syncs assets/ into (null when create_cloudfront = false)."
  value       = try(module.storage.assets_bucket_id, null)
}

output "cloudfront_distribution_id" {
  description = "ID of the assets distribution the deploy invalidates after a sync (null when create_cloudfront = false)."
  value       = try(module.edge.cloudfront_distribution_id, null)
}

output "cloudfront_domain_name" {
  description = "Domain name of the static assets distribution (null when create_cloudfront = false)."
  value       = try(module.edge.cloudfront_domain_name, null)
}

################################################################################
# Service
################################################################################

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = try(module.service.cluster_name, null)
}

output "api_service_name" {
  description = "Name of the API ECS service."
  value       = try(module.service.api_service_name, null)
}

output "worker_service_name" {
  description = "Name of the worker ECS service."
  value       = try(module.service.worker_service_name, null)
}

################################################################################
# IAM
################################################################################

output "github_deploy_role_arn" {
  description = "ARN of the role the deploy job (environment prod) assumes through OIDC to watch and roll back the services: vars.AWS_DEPLOY_ROLE_ARN (null when create_github_oidc = false)."
  value       = try(module.iam.github_deploy_role_arn, null)
}

output "github_push_role_arn" {
  description = "ARN of the role the build job on main assumes through OIDC to push the image: vars.AWS_IMAGE_PUSH_ROLE_ARN (null when create_github_oidc = false or without the stack's registry)."
  value       = try(module.iam.github_push_role_arn, null)
}

################################################################################
# Observability
################################################################################

output "alarm_topic_arn" {
  description = "ARN of the KMS-encrypted SNS topic receiving all alarms."
  value       = module.observability.alarm_topic_arn
}

################################################################################
# Backup
################################################################################

output "backup_vault_arn" {
  description = "ARN of the AWS Backup vault (null when create_backup_plan = false)."
  value       = try(module.backup.vault_arn, null)
}
