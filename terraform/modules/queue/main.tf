################################################################################
# General
################################################################################

# Inputs only (create, name, tags): see variables.tf.

################################################################################
# Queues
################################################################################

# Dead-letter queue. For standard queues the message age keeps counting from
# the original enqueue after it is moved here, so its retention must be longer
# than the source queue's or messages can expire on arrival.
resource "aws_sqs_queue" "dlq" {
  count = var.create ? 1 : 0

  name                              = "${var.name}-dlq"
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  count = var.create ? 1 : 0

  name = var.name

  # A message becomes visible again (and is redelivered) when the timeout
  # expires while a worker is still processing it; it must exceed the longest
  # job plus a margin, which the precondition below enforces.
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = 20 # long polling: fewer empty receives, lower cost
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[0].arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.visibility_timeout_seconds > var.max_job_duration_seconds
      error_message = "visibility_timeout_seconds must be greater than max_job_duration_seconds, otherwise running jobs are redelivered to a second worker."
    }
    precondition {
      condition     = var.message_retention_seconds < 1209600
      error_message = "message_retention_seconds must be shorter than the DLQ retention (14 days)."
    }
  }
}

# Only the jobs queue may use the DLQ as its dead-letter target.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = var.create ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[0].arn]
  })
}

################################################################################
# Alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  count = var.create && var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-oldest-message-age"
  alarm_description   = "Jobs are waiting longer than ${var.oldest_message_age_threshold_seconds}s: workers are down, stuck or under-scaled."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.oldest_message_age_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  count = var.create && var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-dlq-not-empty"
  alarm_description   = "Jobs failed ${var.max_receive_count} times and were dead-lettered; inspect and redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
