output "url" {
  description = "Where the load balancer serves the web service."
  value       = "http://${aws_lb.this.dns_name}"
}

output "database_endpoint" {
  description = "The PostgreSQL endpoint the web service is given (DB_HOST:DB_PORT)."
  value       = aws_db_instance.main.endpoint
}

output "redis_endpoint" {
  description = "The Redis primary endpoint both services are given (REDIS_HOST)."
  value       = aws_elasticache_replication_group.cache.primary_endpoint_address
}
