################################################################################
# Queues
################################################################################

output "queue_url" {
  description = "URL of the jobs queue."
  value       = try(aws_sqs_queue.this[0].url, null)
}

output "queue_arn" {
  description = "ARN of the jobs queue."
  value       = try(aws_sqs_queue.this[0].arn, null)
}

output "queue_name" {
  description = "Name of the jobs queue."
  value       = try(aws_sqs_queue.this[0].name, null)
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].url, null)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].name, null)
}

################################################################################
# Alarms
################################################################################

output "alarm_arns" {
  description = "ARNs of the queue alarms."
  value       = concat(aws_cloudwatch_metric_alarm.oldest_message_age[*].arn, aws_cloudwatch_metric_alarm.dlq_depth[*].arn)
}
