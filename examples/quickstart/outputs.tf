output "url" {
  description = "Where the load balancer serves the web service."
  value       = "http://${aws_lb.this.dns_name}"
}

output "target_group_arn" {
  description = "Target group the service registers its tasks in."
  value       = aws_lb_target_group.web.arn
}

output "service_name" {
  description = "ECS service running the web container."
  value       = aws_ecs_service.web.name
}
