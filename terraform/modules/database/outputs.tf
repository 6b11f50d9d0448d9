################################################################################
# Connection budget
################################################################################

output "max_connections" {
  description = "max_connections assumed for the instance class."
  value       = local.max_connections
}

output "connection_budget" {
  description = "Connections the application may hold (after proxy share or reserved connections)."
  value       = local.connection_budget
}

output "client_connection_demand" {
  description = "Worst-case connections of the application (client_max_tasks x client_pool_size_per_task)."
  value       = local.client_connection_demand
}

################################################################################
# Networking
################################################################################

output "security_group_id" {
  description = "Security group of the DB instance."
  value       = try(aws_security_group.db[0].id, null)
}

output "port" {
  description = "Database port."
  value       = local.port
}

################################################################################
# DB instance
################################################################################

output "db_instance_identifier" {
  description = "Identifier of the primary DB instance."
  value       = try(aws_db_instance.this[0].identifier, null)
}

output "db_instance_arn" {
  description = "ARN of the primary DB instance."
  value       = try(aws_db_instance.this[0].arn, null)
}

output "db_instance_address" {
  description = "Hostname of the primary DB instance."
  value       = try(aws_db_instance.this[0].address, null)
}

output "db_name" {
  description = "Name of the application database."
  value       = var.db_name
}

output "master_secret_arn" {
  description = "ARN of the Secrets Manager secret with the master credentials (JSON with username and password): RDS-managed, or the stack's when there are read replicas. For administrators only; no task reads it."
  value       = local.master_secret_arn
}

output "master_password_managed_by_rds" {
  description = "Whether RDS manages (and rotates) the master password; false when read replicas require the stack to."
  value       = local.managed_master_password
}

output "app_username" {
  description = "Database role the application connects as (IAM authentication)."
  value       = var.app_username
}

output "read_username" {
  description = "Read-only database role the application reads the replicas as (IAM authentication)."
  value       = var.read_username
}

output "app_connect_arns" {
  description = "rds-db:connect resources of the application: its role through the proxy (or on the primary), and the read role on each replica."
  value       = local.app_connect_arns
}

output "app_secret_arn" {
  description = "ARN of the secret RDS Proxy uses to connect as the application role (null without the proxy)."
  value       = try(aws_secretsmanager_secret.app[0].arn, null)
}

output "replica_identifiers" {
  description = "Identifiers of the read replicas (known at plan time, so alarms can be keyed on them)."
  value       = aws_db_instance.replica[*].identifier
}

output "replica_addresses" {
  description = "Hostnames of the read replicas."
  value       = aws_db_instance.replica[*].address
}

################################################################################
# RDS Proxy
################################################################################

output "proxy_endpoint" {
  description = "Endpoint of the RDS Proxy."
  value       = try(aws_db_proxy.this[0].endpoint, null)
}

output "proxy_security_group_id" {
  description = "Security group of the RDS Proxy."
  value       = try(aws_security_group.proxy[0].id, null)
}

output "client_host" {
  description = "Host the application should connect to: the proxy when created, otherwise the primary."
  value       = try(aws_db_proxy.this[0].endpoint, aws_db_instance.this[0].address, null)
}
