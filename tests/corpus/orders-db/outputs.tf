output "db_endpoint" {
  value = module.database.endpoint
}

output "app_security_group_id" {
  description = "Pass this to the orders-service pipeline"
  value       = aws_security_group.app.id
}
