################################################################################
# General
################################################################################

data "aws_region" "current" {}

locals {
  alb_alarms = var.create && var.enable_alb_alarms
  ecs_alarms = var.create && var.enable_ecs_alarms
  rds_alarms = var.create && var.enable_rds_alarms

  alarm_actions = aws_sns_topic.alarms[*].arn
  ecs_services  = local.ecs_alarms ? var.ecs_service_names : {}
}

################################################################################
# Alarm topic
################################################################################

resource "aws_sns_topic" "alarms" {
  count = var.create ? 1 : 0

  name = "${var.name}-alarms"
  # CloudWatch can only publish to a KMS-encrypted topic when the key policy
  # allows cloudwatch.amazonaws.com (see the kms module).
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.create ? toset(var.alarm_email_addresses) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}

################################################################################
# Load balancer alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "alb_5xx_rate" {
  count = local.alb_alarms ? 1 : 0

  alarm_name          = "${var.name}-alb-5xx-rate"
  alarm_description   = "More than ${var.alb_5xx_rate_threshold_percent}% of requests answered with 5xx (target or ALB) in minutes with at least ${var.alb_5xx_min_requests_per_minute} requests; the objective is below ${var.error_rate_slo_percent}%."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_5xx_rate_threshold_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  # No traffic means no error rate, not an outage.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions

  metric_query {
    id = "rate"
    # A minute with fewer requests than the minimum counts as 0%: a rate over a handful of requests is noise.
    expression  = "IF(requests >= ${var.alb_5xx_min_requests_per_minute}, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
    label       = "5xx rate (%), minutes with at least ${var.alb_5xx_min_requests_per_minute} requests"
    return_data = true
  }

  metric_query {
    id = "target5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "elb5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.alb_5xx_rate_threshold_percent < var.error_rate_slo_percent
      error_message = "alb_5xx_rate_threshold_percent (${var.alb_5xx_rate_threshold_percent}) must be below error_rate_slo_percent (${var.error_rate_slo_percent}): an alarm at the objective fires only once it is already missed."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "alb_p99_latency" {
  count = local.alb_alarms ? 1 : 0

  alarm_name          = "${var.name}-alb-p99-latency"
  alarm_description   = "p99 target response time above ${var.p99_latency_threshold_seconds}s."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.p99_latency_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alb_unhealthy_hosts" {
  count = local.alb_alarms ? 1 : 0

  alarm_name          = "${var.name}-alb-unhealthy-hosts"
  alarm_description   = "At least one API task fails the /health check."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

################################################################################
# Service alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "ecs_cpu" {
  for_each = local.ecs_services

  alarm_name          = "${var.name}-${each.key}-cpu"
  alarm_description   = "${each.key} service CPU above ${var.ecs_cpu_threshold_percent}% (autoscaling at max, or a runaway task)."
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = var.ecs_cluster_name, ServiceName = each.value }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 8
  threshold           = var.ecs_cpu_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "ecs_memory" {
  for_each = local.ecs_services

  alarm_name          = "${var.name}-${each.key}-memory"
  alarm_description   = "${each.key} service memory above ${var.ecs_memory_threshold_percent}% (OOM kills ahead)."
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = { ClusterName = var.ecs_cluster_name, ServiceName = each.value }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 8
  threshold           = var.ecs_memory_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

# Tasks that keep failing to start (a bad image, a missing secret, no Fargate capacity, an
# unresolvable dependency) leave the service below its desired count while CPU and memory look fine.
# Container Insights (enabled on the cluster) publishes both counts; a deployment or a scale-out
# closes the gap within a few minutes, so only a gap that lasts 10 minutes alarms.
resource "aws_cloudwatch_metric_alarm" "ecs_running_below_desired" {
  for_each = local.ecs_services

  alarm_name          = "${var.name}-${each.key}-running-below-desired"
  alarm_description   = "${each.key} service has run fewer tasks than desired for 10 minutes (tasks failing to start or being replaced)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  # No data means Container Insights stopped reporting the service: not evidence of health.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Tasks missing"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = { ClusterName = var.ecs_cluster_name, ServiceName = each.value }
      period      = 60
      stat        = "Minimum"
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = var.ecs_cluster_name, ServiceName = each.value }
      period      = 60
      stat        = "Minimum"
    }
  }

  tags = var.tags
}

################################################################################
# Database alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  count = local.rds_alarms ? 1 : 0

  alarm_name          = "${var.name}-rds-cpu"
  alarm_description   = "Database CPU above ${var.rds_cpu_threshold_percent}% for 15 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.rds_cpu_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_free_storage" {
  count = local.rds_alarms ? 1 : 0

  alarm_name          = "${var.name}-rds-free-storage"
  alarm_description   = "Database free storage below ${var.rds_free_storage_threshold_gib} GiB (autoscaling at its limit?)."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.rds_free_storage_threshold_gib * 1073741824
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

# Replicas are instances of their own: a replica can run out of CPU or storage (it replays every write
# and serves its own reads) while the primary is fine, and a lagging replica serves stale data.
resource "aws_cloudwatch_metric_alarm" "rds_replica_cpu" {
  for_each = local.rds_alarms ? toset(var.db_replica_identifiers) : toset([])

  alarm_name          = "${each.key}-cpu"
  alarm_description   = "Read replica ${each.key} CPU above ${var.rds_cpu_threshold_percent}% for 15 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = each.key }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.rds_cpu_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_replica_free_storage" {
  for_each = local.rds_alarms ? toset(var.db_replica_identifiers) : toset([])

  alarm_name          = "${each.key}-free-storage"
  alarm_description   = "Read replica ${each.key} free storage below ${var.rds_free_storage_threshold_gib} GiB: replication stops when it fills."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = each.key }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.rds_free_storage_threshold_gib * 1073741824
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_replica_lag" {
  for_each = local.rds_alarms ? toset(var.db_replica_identifiers) : toset([])

  alarm_name          = "${each.key}-lag"
  alarm_description   = "Read replica ${each.key} more than ${var.rds_replica_lag_threshold_seconds} s behind its primary: reads are stale."
  namespace           = "AWS/RDS"
  metric_name         = "ReplicaLag"
  dimensions          = { DBInstanceIdentifier = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 8
  threshold           = var.rds_replica_lag_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

################################################################################
# Dashboard
################################################################################

locals {
  region = data.aws_region.current.name

  alb_widgets = [for w in [
    {
      type = "metric", width = 12, height = 6
      properties = {
        title = "Requests and 5xx", region = local.region, stat = "Sum", period = 60, view = "timeSeries"
        metrics = [
          ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix],
          [".", "HTTPCode_Target_5XX_Count", ".", "."],
          [".", "HTTPCode_ELB_5XX_Count", ".", "."],
        ]
      }
    },
    {
      type = "metric", width = 12, height = 6
      properties = {
        title = "Target response time", region = local.region, period = 60, view = "timeSeries"
        metrics = [
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", var.target_group_arn_suffix, { stat = "p50" }],
          ["...", { stat = "p99" }],
        ]
      }
    },
  ] : w if local.alb_alarms]

  ecs_widgets = [for w in [
    {
      type = "metric", width = 12, height = 6
      properties = {
        title = "ECS CPU / memory", region = local.region, stat = "Average", period = 60, view = "timeSeries"
        metrics = flatten([for k, s in var.ecs_service_names : [
          ["AWS/ECS", "CPUUtilization", "ClusterName", var.ecs_cluster_name, "ServiceName", s, { label = "${k} CPU" }],
          ["AWS/ECS", "MemoryUtilization", "ClusterName", var.ecs_cluster_name, "ServiceName", s, { label = "${k} memory" }],
        ]])
      }
    },
  ] : w if local.ecs_alarms]

  rds_widgets = [for w in [
    {
      type = "metric", width = 12, height = 6
      properties = {
        title = "Database", region = local.region, stat = "Average", period = 60, view = "timeSeries"
        metrics = [
          ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.db_instance_identifier],
          [".", "DatabaseConnections", ".", ".", { yAxis = "right", stat = "Maximum" }],
        ]
      }
    },
  ] : w if local.rds_alarms]

  sqs_widgets = [for w in [
    {
      type = "metric", width = 12, height = 6
      properties = {
        title = "Jobs queue", region = local.region, stat = "Maximum", period = 60, view = "timeSeries"
        metrics = concat(
          [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
            [".", "ApproximateAgeOfOldestMessage", ".", ".", { yAxis = "right" }],
          ],
          var.dlq_name != null ? [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name, { label = "DLQ depth" }]] : [],
        )
      }
    },
  ] : w if var.queue_name != null]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create && var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(local.alb_widgets, local.ecs_widgets, local.rds_widgets, local.sqs_widgets)
  })
}
