################################################################################
# General
################################################################################

# Inputs only: see variables.tf.

################################################################################
# Networking
################################################################################

resource "aws_elasticache_subnet_group" "this" {
  count = var.create ? 1 : 0

  name        = var.name
  description = "Private data subnets for ${var.name}"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_security_group" "this" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-cache-"
  description = "Redis: 6379/tcp from the application only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-cache" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = var.create ? var.allowed_security_group_ids : {}

  security_group_id            = aws_security_group.this[0].id
  description                  = "Redis from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = each.value
}

################################################################################
# Replication group
################################################################################

resource "aws_cloudwatch_log_group" "slow_log" {
  count = var.create ? 1 : 0

  name              = "/aws/elasticache/${var.name}/slow-log"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# Who may talk to Redis: RBAC with IAM authentication. The application's user logs in with a 15-minute
# IAM token (elasticache:Connect on its task role, SigV4-signed like the database's): no password in the
# task, in the state or in a secret. Every user group must hold a user named "default"; this one is
# switched off, so an unauthenticated connection can run nothing.
resource "aws_elasticache_user" "default" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_31:Not a replication group; the default user is switched off (access string "off").
  user_id              = "${var.name}-default"
  user_name            = "default"
  engine               = "REDIS"
  access_string        = "off -@all"
  no_password_required = true

  tags = var.tags
}

resource "aws_elasticache_user" "app" {
  count = var.create ? 1 : 0

  user_id   = "${var.name}-app"
  user_name = "${var.name}-app"
  engine    = "REDIS"
  # Keys and commands the API needs, and none of the administrative or blocking ones.
  access_string = "on ~* +@all -@dangerous"

  authentication_mode {
    type = "iam"
  }

  tags = var.tags
}

resource "aws_elasticache_user_group" "this" {
  count = var.create ? 1 : 0

  user_group_id = var.name
  engine        = "REDIS"
  user_ids      = [aws_elasticache_user.default[0].user_id, aws_elasticache_user.app[0].user_id]

  tags = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  count = var.create ? 1 : 0

  replication_group_id = var.name
  description          = "Live state cache for ${var.name}"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = 6379

  # Primary plus replicas in other AZs; a failed primary is replaced by a
  # replica automatically (needs >= 2 nodes, enforced by the variable).
  num_cache_clusters         = var.num_cache_clusters
  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = aws_elasticache_subnet_group.this[0].name
  security_group_ids = [aws_security_group.this[0].id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  # RBAC (IAM authentication needs TLS and Redis 7).
  user_group_ids = [aws_elasticache_user_group.this[0].user_group_id]

  snapshot_retention_limit = var.snapshot_retention_limit
  snapshot_window          = "03:00-04:00"
  maintenance_window       = "sun:05:00-sun:06:00"
  # engine_version is major.minor (7.1): ElastiCache applies patch releases itself, so the setting
  # cannot pin one and drift.
  auto_minor_version_upgrade = true
  apply_immediately          = false

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.slow_log[0].name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }

  tags = var.tags
}

################################################################################
# Alarms
################################################################################

# Per node (ElastiCache publishes host metrics per member cluster). Redis runs commands on one thread,
# so EngineCPUUtilization (that thread) saturates long before CPUUtilization (the host) shows it; a node
# whose memory fills starts evicting keys, and every eviction is a read that falls through to MySQL.
locals {
  cache_node_alarms = var.create && var.create_alarms ? {
    for pair in setproduct(range(var.num_cache_clusters), ["engine-cpu", "memory"]) : "${pair[0]}-${pair[1]}" => {
      node   = pair[0]
      signal = pair[1]
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "node" {
  for_each = local.cache_node_alarms

  alarm_name        = "${var.name}-cache-${each.value.node + 1}-${each.value.signal}"
  alarm_description = each.value.signal == "engine-cpu" ? "Redis node ${each.value.node + 1}: engine thread above ${var.engine_cpu_alarm_percent}% CPU." : "Redis node ${each.value.node + 1}: memory above ${var.memory_alarm_percent}% (evictions send reads to the database)."
  namespace         = "AWS/ElastiCache"
  metric_name       = each.value.signal == "engine-cpu" ? "EngineCPUUtilization" : "DatabaseMemoryUsagePercentage"
  # Member clusters are known once the group exists; their number is num_cache_clusters.
  dimensions          = { CacheClusterId = sort(tolist(aws_elasticache_replication_group.this[0].member_clusters))[each.value.node] }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = each.value.signal == "engine-cpu" ? var.engine_cpu_alarm_percent : var.memory_alarm_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
