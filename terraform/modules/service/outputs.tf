################################################################################
# Cluster
################################################################################

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = try(aws_ecs_cluster.this[0].name, null)
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = try(aws_ecs_cluster.this[0].arn, null)
}

################################################################################
# Security group
################################################################################

output "security_group_id" {
  description = "Security group of the API tasks."
  value       = try(aws_security_group.this[0].id, null)
}

output "worker_security_group_id" {
  description = "Security group of the worker tasks."
  value       = try(aws_security_group.worker[0].id, null)
}

################################################################################
# Logs
################################################################################

output "log_group_arns" {
  description = "ARNs of the container log groups, keyed api/worker."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.arn }
}

output "log_group_names" {
  description = "Names of the container log groups, keyed api/worker."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

################################################################################
# Task definitions
################################################################################

output "api_task_definition_arn" {
  description = "ARN of the API task definition revision."
  value       = try(aws_ecs_task_definition.api[0].arn, null)
}

output "worker_task_definition_arn" {
  description = "ARN of the worker task definition revision."
  value       = try(aws_ecs_task_definition.worker[0].arn, null)
}

################################################################################
# Services
################################################################################

output "api_service_name" {
  description = "Name of the API service."
  value       = try(aws_ecs_service.api[0].name, null)
}

output "api_service_arn" {
  description = "ARN of the API service."
  value       = try(aws_ecs_service.api[0].id, null)
}

output "worker_service_name" {
  description = "Name of the worker service."
  value       = try(aws_ecs_service.worker[0].name, null)
}

output "worker_service_arn" {
  description = "ARN of the worker service."
  value       = try(aws_ecs_service.worker[0].id, null)
}

################################################################################
# Autoscaling
################################################################################

output "autoscaling_policy_arns" {
  description = "ARNs of the scaling policies."
  value = concat(
    aws_appautoscaling_policy.api_cpu[*].arn,
    aws_appautoscaling_policy.api_requests[*].arn,
    aws_appautoscaling_policy.worker_backlog[*].arn,
  )
}
