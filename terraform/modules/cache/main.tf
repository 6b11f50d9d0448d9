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

resource "aws_elasticache_replication_group" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_31:No AUTH token: the stack has no password source other than Terraform state (no random provider by design). Access is limited to the service security group and all traffic is TLS; move to RBAC/IAM auth when the client supports it.
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

  snapshot_retention_limit   = var.snapshot_retention_limit
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:05:00-sun:06:00"
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
