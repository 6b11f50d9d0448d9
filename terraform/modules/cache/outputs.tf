################################################################################
# Networking
################################################################################

output "security_group_id" {
  description = "Security group of the cache."
  value       = try(aws_security_group.this[0].id, null)
}

################################################################################
# Replication group
################################################################################

output "replication_group_id" {
  description = "ID of the replication group."
  value       = try(aws_elasticache_replication_group.this[0].id, null)
}

output "primary_endpoint_address" {
  description = "Primary (read/write) endpoint; connect with TLS (rediss://)."
  value       = try(aws_elasticache_replication_group.this[0].primary_endpoint_address, null)
}

output "reader_endpoint_address" {
  description = "Reader endpoint spreading reads over replicas."
  value       = try(aws_elasticache_replication_group.this[0].reader_endpoint_address, null)
}

output "port" {
  description = "Redis port."
  value       = 6379
}

output "app_user_id" {
  description = "The Redis user the application logs in as with an IAM token (CACHE_USER)."
  value       = try(aws_elasticache_user.app[0].user_id, null)
}

output "connect_arns" {
  description = "elasticache:Connect resources of the application: the replication group and its user."
  value       = var.create ? [aws_elasticache_replication_group.this[0].arn, aws_elasticache_user.app[0].arn] : []
}
