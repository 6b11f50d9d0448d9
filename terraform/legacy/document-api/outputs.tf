output "cluster_name" {
  value = aws_ecs_cluster.main.name
}

output "service_name" {
  description = "Find the task's public IP with `aws ecs list-tasks` + `describe-tasks`."
  value       = aws_ecs_service.api.name
}

output "db_endpoint" {
  value = aws_db_instance.docs.endpoint
}
