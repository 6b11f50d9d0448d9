################################################################################
# Alarm topic
################################################################################

output "alarm_topic_arn" {
  description = "ARN of the SNS topic receiving all alarms."
  value       = try(aws_sns_topic.alarms[0].arn, null)
}

################################################################################
# Load balancer alarms
################################################################################

output "alb_alarm_arns" {
  description = "ARNs of the ALB alarms."
  value       = concat(aws_cloudwatch_metric_alarm.alb_5xx_rate[*].arn, aws_cloudwatch_metric_alarm.alb_p99_latency[*].arn, aws_cloudwatch_metric_alarm.alb_unhealthy_hosts[*].arn)
}

################################################################################
# Service alarms
################################################################################

output "ecs_alarm_arns" {
  description = "ARNs of the ECS service alarms."
  value       = concat([for a in aws_cloudwatch_metric_alarm.ecs_cpu : a.arn], [for a in aws_cloudwatch_metric_alarm.ecs_memory : a.arn])
}

################################################################################
# Database alarms
################################################################################

output "rds_alarm_arns" {
  description = "ARNs of the RDS alarms."
  value       = concat(aws_cloudwatch_metric_alarm.rds_cpu[*].arn, aws_cloudwatch_metric_alarm.rds_free_storage[*].arn)
}

################################################################################
# Dashboard
################################################################################

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
