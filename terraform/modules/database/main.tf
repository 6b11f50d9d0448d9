################################################################################
# General
################################################################################

data "aws_partition" "current" {}

locals {
  is_postgres = var.engine == "postgres"
  port        = local.is_postgres ? 5432 : 3306

  # Parameter group family follows the engine: postgres16, mysql8.0, ...
  version_parts    = split(".", var.engine_version)
  parameter_family = local.is_postgres ? "postgres${local.version_parts[0]}" : "mysql${local.version_parts[0]}.${local.version_parts[1]}"

  cloudwatch_logs_exports = local.is_postgres ? ["postgresql", "upgrade"] : ["error", "slowquery"]

  # A major version ("16" for postgres, "8.0" for mysql) lets RDS apply minor upgrades
  # (auto_minor_version_upgrade) without the next plan proposing a downgrade back to a pinned
  # minor ("16.4" -> "16.4" while AWS already runs 16.6).
  pins_minor_version = length(local.version_parts) > (local.is_postgres ? 1 : 2)

  # RDS refuses read replicas of a primary whose master password it manages in Secrets Manager
  # (RDS User Guide, "Password management with Amazon RDS and AWS Secrets Manager", limitations;
  # every engine but SQL Server). With replicas the stack generates the password itself: it is
  # written to the instance and to a secret as a write-only value, never into state or plan.
  # A variable of its own, not replica_count: on a live primary the switch is applied by RDS
  # asynchronously (PendingModifiedValues), so replicas created in the same apply race with it. The
  # switch is one apply, the replicas the next (docs/RUNBOOK.md, "Adding read replicas").
  managed_master_password = !var.stack_managed_master_password

  # rds.force_ssl / require_secure_transport reject plaintext connections;
  # slow-query logging feeds the exported log group.
  parameters = local.is_postgres ? {
    "rds.force_ssl"              = "1"
    "log_min_duration_statement" = tostring(var.slow_query_threshold_ms)
    "log_statement"              = "ddl"
    "log_connections"            = "1"
    "log_disconnections"         = "1"
    } : {
    "require_secure_transport" = "ON"
    "slow_query_log"           = "1"
    "long_query_time"          = tostring(var.slow_query_threshold_ms / 1000)
    "log_output"               = "FILE"
  }
}

################################################################################
# Connection budget
################################################################################

locals {
  # Nominal memory (GiB) per instance class.
  instance_class_memory_gib = {
    "db.t3.micro"    = 1
    "db.t3.small"    = 2
    "db.t3.medium"   = 4
    "db.t3.large"    = 8
    "db.t4g.micro"   = 1
    "db.t4g.small"   = 2
    "db.t4g.medium"  = 4
    "db.t4g.large"   = 8
    "db.t4g.xlarge"  = 16
    "db.m6g.large"   = 8
    "db.m6g.xlarge"  = 16
    "db.m6g.2xlarge" = 32
    "db.m6g.4xlarge" = 64
    "db.m7g.large"   = 8
    "db.m7g.xlarge"  = 16
    "db.m7g.2xlarge" = 32
    "db.m7g.4xlarge" = 64
    "db.r6g.large"   = 16
    "db.r6g.xlarge"  = 32
    "db.r6g.2xlarge" = 64
    "db.r7g.large"   = 16
    "db.r7g.xlarge"  = 32
    "db.r7g.2xlarge" = 64
  }

  # Default max_connections of the RDS parameter groups:
  #   postgres: LEAST({DBInstanceClassMemory/9531392}, 5000)
  #   mysql:    {DBInstanceClassMemory/12582880}
  # computed from nominal memory, e.g. db.t4g.small (2 GiB) = 225 on postgres.
  # DBInstanceClassMemory is a little below nominal (RDS keeps some for the
  # OS), which is one reason the budget below keeps headroom.
  max_connections_by_class = {
    for class, gib in local.instance_class_memory_gib : class => (
      local.is_postgres ? min(floor(gib * 1073741824 / 9531392), 5000) : floor(gib * 1073741824 / 12582880)
    )
  }

  max_connections = coalesce(var.max_connections_override, lookup(local.max_connections_by_class, var.instance_class, 0))

  # Connections the application may hold. Behind RDS Proxy the proxy opens at
  # most max_connections_percent of max_connections; without it, keep
  # reserved_connections for superuser/maintenance sessions.
  connection_budget = var.create_proxy ? floor(local.max_connections * var.proxy_max_connections_percent / 100) : local.max_connections - var.reserved_connections

  # Worst case demand: every task that can exist at once holds a full pool.
  client_connection_demand = var.client_max_tasks * var.client_pool_size_per_task
}

################################################################################
# Maintenance windows
################################################################################

locals {
  backup_window_parts      = regex("^(\\d{2}):(\\d{2})-(\\d{2}):(\\d{2})$", var.backup_window)
  maintenance_window_parts = regex("^[a-z]{3}:(\\d{2}):(\\d{2})-[a-z]{3}:(\\d{2}):(\\d{2})$", lower(var.maintenance_window))

  backup_start      = tonumber(local.backup_window_parts[0]) * 60 + tonumber(local.backup_window_parts[1])
  backup_end        = tonumber(local.backup_window_parts[2]) * 60 + tonumber(local.backup_window_parts[3])
  maintenance_start = tonumber(local.maintenance_window_parts[0]) * 60 + tonumber(local.maintenance_window_parts[1])
  maintenance_end   = tonumber(local.maintenance_window_parts[2]) * 60 + tonumber(local.maintenance_window_parts[3])

  # Backups run daily, so compare times of day; a window that wraps midnight
  # is split into two intervals.
  backup_intervals      = local.backup_start <= local.backup_end ? [[local.backup_start, local.backup_end]] : [[local.backup_start, 1440], [0, local.backup_end]]
  maintenance_intervals = local.maintenance_start <= local.maintenance_end ? [[local.maintenance_start, local.maintenance_end]] : [[local.maintenance_start, 1440], [0, local.maintenance_end]]
  windows_overlap       = anytrue(flatten([for b in local.backup_intervals : [for m in local.maintenance_intervals : b[0] < m[1] && m[0] < b[1]]]))
}

################################################################################
# Networking
################################################################################

resource "aws_db_subnet_group" "this" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-"
  description = "Private data subnets for ${var.name}"
  subnet_ids  = var.subnet_ids

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "db" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-db-"
  description = "Database: ${local.port}/tcp from the application and RDS Proxy only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-db" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "db_from_clients" {
  for_each = var.create ? var.allowed_security_group_ids : {}

  security_group_id            = aws_security_group.db[0].id
  description                  = "Database from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "db_from_proxy" {
  count = var.create && var.create_proxy ? 1 : 0

  security_group_id            = aws_security_group.db[0].id
  description                  = "Database from RDS Proxy"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.proxy[0].id
}

################################################################################
# Parameter group
################################################################################

resource "aws_db_parameter_group" "this" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-"
  description = "${var.name}: TLS enforced, slow query logging"
  family      = local.parameter_family

  dynamic "parameter" {
    for_each = local.parameters

    content {
      name  = parameter.key
      value = parameter.value
    }
  }

  tags = var.tags

  # A parameter group in use cannot be deleted; create the replacement first.
  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# Monitoring
################################################################################

# RDS would create these groups itself on first export, without retention or
# encryption; creating them first lets Terraform own both.
resource "aws_cloudwatch_log_group" "this" {
  for_each = var.create ? toset(local.cloudwatch_logs_exports) : toset([])

  name              = "/aws/rds/instance/${var.name}/${each.value}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  count = var.create && var.monitoring_interval > 0 ? 1 : 0

  name_prefix          = "${substr(var.name, 0, 26)}-rds-mon-"
  assume_role_policy   = data.aws_iam_policy_document.monitoring_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count = var.create && var.monitoring_interval > 0 ? 1 : 0

  role       = aws_iam_role.monitoring[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

################################################################################
# Credentials
################################################################################

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

# Generated by Secrets Manager (GetRandomPassword) on every plan and apply, and only ever written
# through write-only arguments: a new value reaches the instance and the secret together, and only
# when master_password_version changes. Printable ASCII without punctuation satisfies every engine
# (MySQL: 8-41 characters, no "/", '"' or "@").
ephemeral "aws_secretsmanager_random_password" "master" {
  count = var.create && !local.managed_master_password ? 1 : 0

  password_length     = 40
  exclude_punctuation = true
}

# The master secret when RDS cannot manage it (replicas): the same JSON shape as the RDS-managed one
# (username, password), so the proxy, the runbook and admins read either the same way.
resource "aws_secretsmanager_secret" "master" {
  count = var.create && !local.managed_master_password ? 1 : 0

  #checkov:skip=CKV2_AWS_57:RDS cannot rotate a secret it does not manage; rotate by raising master_password_version (docs/RUNBOOK.md), which writes a new password to the instance and this secret in one apply.
  name_prefix = "${var.name}-db-master-"
  description = "Master credentials of ${var.name} (stack-managed: the instance has read replicas)"
  kms_key_id  = var.kms_key_arn

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "master" {
  count = var.create && !local.managed_master_password ? 1 : 0

  secret_id = aws_secretsmanager_secret.master[0].id
  secret_string_wo = jsonencode({
    engine   = var.engine
    username = var.master_username
    password = ephemeral.aws_secretsmanager_random_password.master[0].random_password
  })
  secret_string_wo_version = var.master_password_version
}

locals {
  master_secret_arn = var.create ? (
    local.managed_master_password ? try(aws_db_instance.this[0].master_user_secret[0].secret_arn, null) : aws_secretsmanager_secret.master[0].arn
  ) : null
}

# The application's own database role (app_username), which the tasks use instead of the master.
# They authenticate with IAM (rds-db:connect, a 15-minute token per connection): no password in the
# task, and nothing to re-read when a password rotates. RDS Proxy accepts that token and connects to
# the database as the role with the credentials of this secret, so only the proxy ever reads it.
# The role itself is created once with SQL (docs/RUNBOOK.md, "Application database role"): Terraform
# has no SQL provider here.
ephemeral "aws_secretsmanager_random_password" "app" {
  count = var.create && var.create_proxy ? 1 : 0

  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "app" {
  count = var.create && var.create_proxy ? 1 : 0

  #checkov:skip=CKV2_AWS_57:Rotating this password means changing the role's password in the database too; raise app_password_version and run the runbook's ALTER ROLE step (tasks are unaffected: they use IAM tokens).
  name_prefix = "${var.name}-db-app-"
  description = "Credentials RDS Proxy uses for the ${var.app_username} role of ${var.name}"
  kms_key_id  = var.kms_key_arn

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "app" {
  count = var.create && var.create_proxy ? 1 : 0

  secret_id = aws_secretsmanager_secret.app[0].id
  secret_string_wo = jsonencode({
    engine   = var.engine
    username = var.app_username
    password = ephemeral.aws_secretsmanager_random_password.app[0].random_password
  })
  secret_string_wo_version = var.app_password_version
}

################################################################################
# DB instance
################################################################################

resource "aws_db_instance" "this" {
  count = var.create ? 1 : 0

  identifier     = var.name
  engine         = var.engine
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_name  = var.db_name
  username = var.master_username
  port     = local.port
  # Without replicas RDS generates the password, stores it in Secrets Manager (encrypted with our
  # key) and rotates it. With replicas (see managed_master_password) the password comes from the
  # ephemeral generator below: write-only, so neither way puts it in Terraform state or code.
  manage_master_user_password   = local.managed_master_password ? true : null
  master_user_secret_kms_key_id = local.managed_master_password ? var.kms_key_arn : null
  password_wo                   = local.managed_master_password ? null : ephemeral.aws_secretsmanager_random_password.master[0].random_password
  password_wo_version           = local.managed_master_password ? null : var.master_password_version
  # Applications authenticate with IAM tokens (see the application user below), never the master.
  iam_database_authentication_enabled = true

  db_subnet_group_name   = aws_db_subnet_group.this[0].name
  vpc_security_group_ids = [aws_security_group.db[0].id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this[0].name
  multi_az               = var.multi_az

  backup_retention_period   = var.backup_retention_period
  backup_window             = var.backup_window
  maintenance_window        = var.maintenance_window
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${var.name}-final"
  delete_automated_backups  = var.skip_final_snapshot

  auto_minor_version_upgrade  = var.auto_minor_version_upgrade
  allow_major_version_upgrade = false
  apply_immediately           = var.apply_immediately

  performance_insights_enabled          = var.performance_insights_enabled
  performance_insights_kms_key_id       = var.performance_insights_enabled ? var.kms_key_arn : null
  performance_insights_retention_period = var.performance_insights_enabled ? 7 : null
  monitoring_interval                   = var.monitoring_interval
  monitoring_role_arn                   = try(aws_iam_role.monitoring[0].arn, null)
  enabled_cloudwatch_logs_exports       = local.cloudwatch_logs_exports

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy_attachment.monitoring]

  lifecycle {
    precondition {
      condition     = local.max_connections > 0
      error_message = "Unknown max_connections for ${var.instance_class}: add it to instance_class_memory_gib or set max_connections_override."
    }
    precondition {
      condition     = local.client_connection_demand <= local.connection_budget
      error_message = "Connection budget exceeded: ${var.client_max_tasks} tasks x ${var.client_pool_size_per_task} connections = ${local.client_connection_demand} > budget ${local.connection_budget} (max_connections ${local.max_connections} of ${var.instance_class}). Lower the pool size or max tasks, or use a larger instance class."
    }
    precondition {
      condition     = !local.windows_overlap
      error_message = "backup_window (${var.backup_window}) overlaps maintenance_window (${var.maintenance_window}); RDS rejects overlapping windows."
    }
    precondition {
      condition     = var.max_allocated_storage > var.allocated_storage
      error_message = "max_allocated_storage must be greater than allocated_storage (storage autoscaling)."
    }
    precondition {
      condition     = !var.is_production || (var.multi_az && var.backup_retention_period >= 14)
      error_message = "Production databases must be Multi-AZ with backup_retention_period >= 14."
    }
    precondition {
      condition     = !(var.auto_minor_version_upgrade && local.pins_minor_version)
      error_message = "engine_version ${var.engine_version} pins a minor release while auto_minor_version_upgrade is on: once RDS upgrades the instance, every plan proposes a downgrade. Give the major version only (${local.is_postgres ? local.version_parts[0] : join(".", slice(local.version_parts, 0, 2))}), or turn auto_minor_version_upgrade off and upgrade by hand."
    }
  }
}

resource "aws_db_instance" "replica" {
  count = var.create ? var.replica_count : 0

  #checkov:skip=CKV_AWS_157:Read replicas are disposable read capacity; the primary is Multi-AZ, and a failed replica is replaced from it rather than failed over.
  identifier          = "${var.name}-replica-${count.index + 1}"
  replicate_source_db = aws_db_instance.this[0].identifier
  instance_class      = coalesce(var.replica_instance_class, var.instance_class)

  storage_type      = "gp3"
  storage_encrypted = true
  kms_key_id        = var.kms_key_arn
  # A replica replays every write of its primary, so it must be able to grow as far: one whose storage
  # fills first stops replicating. Left unset, the replica reads back whatever RDS copied from the
  # primary and every plan proposes to clear it.
  max_allocated_storage = var.max_allocated_storage

  vpc_security_group_ids              = [aws_security_group.db[0].id]
  publicly_accessible                 = false
  parameter_group_name                = aws_db_parameter_group.this[0].name
  iam_database_authentication_enabled = true
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.deletion_protection
  # Replicas are rebuilt from the primary; a final snapshot adds nothing.
  skip_final_snapshot        = true
  auto_minor_version_upgrade = var.auto_minor_version_upgrade
  apply_immediately          = var.apply_immediately
  maintenance_window         = var.maintenance_window

  performance_insights_enabled          = var.performance_insights_enabled
  performance_insights_kms_key_id       = var.performance_insights_enabled ? var.kms_key_arn : null
  performance_insights_retention_period = var.performance_insights_enabled ? 7 : null
  monitoring_interval                   = var.monitoring_interval
  monitoring_role_arn                   = try(aws_iam_role.monitoring[0].arn, null)
  enabled_cloudwatch_logs_exports       = local.cloudwatch_logs_exports

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.replica]

  lifecycle {
    precondition {
      condition     = var.stack_managed_master_password
      error_message = "Read replicas need stack_managed_master_password = true (RDS refuses replicas of a primary whose password it manages), applied on its own before replica_count is raised: RDS switches a live primary's password asynchronously, and a replica created meanwhile is refused."
    }
  }
}

# RDS would create each replica's log groups itself on first export, without retention or encryption.
resource "aws_cloudwatch_log_group" "replica" {
  for_each = var.create ? {
    for pair in setproduct(range(var.replica_count), local.cloudwatch_logs_exports) : "${pair[0] + 1}-${pair[1]}" => {
      replica = pair[0] + 1
      log     = pair[1]
    }
  } : {}

  name              = "/aws/rds/instance/${var.name}-replica-${each.value.replica}/${each.value.log}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

################################################################################
# RDS Proxy
################################################################################

resource "aws_security_group" "proxy" {
  count = var.create && var.create_proxy ? 1 : 0

  #checkov:skip=CKV2_AWS_5:Attached to aws_db_proxy.this (vpc_security_group_ids); checkov does not model RDS Proxy attachments.
  name_prefix = "${var.name}-proxy-"
  description = "RDS Proxy: ${local.port}/tcp from the application, to the database"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-proxy" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "proxy_from_clients" {
  for_each = var.create && var.create_proxy ? var.allowed_security_group_ids : {}

  security_group_id            = aws_security_group.proxy[0].id
  description                  = "RDS Proxy from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "proxy_to_db" {
  count = var.create && var.create_proxy ? 1 : 0

  security_group_id            = aws_security_group.proxy[0].id
  description                  = "RDS Proxy to the database"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.db[0].id
}

data "aws_iam_policy_document" "proxy_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "proxy" {
  count = var.create && var.create_proxy ? 1 : 0

  name_prefix          = "${substr(var.name, 0, 26)}-rds-proxy-"
  assume_role_policy   = data.aws_iam_policy_document.proxy_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

# jsonencode rather than a policy-document data source: a data source is
# re-read whenever the DB instance has any pending change, which would show
# this policy as "known after apply" on unrelated instance updates.
resource "aws_iam_role_policy" "proxy" {
  count = var.create && var.create_proxy ? 1 : 0

  name = "read-app-secret"
  role = aws_iam_role.proxy[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadApplicationSecret"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = aws_secretsmanager_secret.app[0].arn
      },
      {
        Sid       = "DecryptMasterSecret"
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = var.kms_key_arn
        Condition = { StringLike = { "kms:ViaService" = "secretsmanager.*.amazonaws.com" } }
      },
    ]
  })
}

resource "aws_db_proxy" "this" {
  count = var.create && var.create_proxy ? 1 : 0

  name                   = var.name
  engine_family          = local.is_postgres ? "POSTGRESQL" : "MYSQL"
  role_arn               = aws_iam_role.proxy[0].arn
  vpc_subnet_ids         = var.subnet_ids
  vpc_security_group_ids = [aws_security_group.proxy[0].id]
  require_tls            = true
  idle_client_timeout    = 1800
  debug_logging          = false

  # Only the application role is reachable through the proxy, and only with an IAM token: the
  # master never is (admins connect to the instance directly, see docs/RUNBOOK.md).
  auth {
    auth_scheme               = "SECRETS"
    secret_arn                = aws_secretsmanager_secret.app[0].arn
    iam_auth                  = "REQUIRED"
    client_password_auth_type = local.is_postgres ? "POSTGRES_SCRAM_SHA_256" : "MYSQL_NATIVE_PASSWORD"
    description               = "Application role ${var.app_username} (IAM authentication)"
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.proxy, aws_secretsmanager_secret_version.app]
}

locals {
  # rds-db:connect resources of the application: as app_username through the proxy (its resource id is
  # the last part of its ARN, prx-...), or on the primary without one; and as read_username on each
  # replica, reached directly for reads. Two roles because a role the proxy logs in as with a password
  # cannot also be an IAM-only role (rds_iam / AWSAuthenticationPlugin) on the replicas it replicates to.
  partition        = data.aws_partition.current.partition
  connect_arn_base = "arn:${local.partition}:rds-db:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:dbuser"
  app_connect_arns = var.create ? concat(
    var.create_proxy ? ["${local.connect_arn_base}:${element(split(":", aws_db_proxy.this[0].arn), 6)}/${var.app_username}"] : ["${local.connect_arn_base}:${aws_db_instance.this[0].resource_id}/${var.app_username}"],
    [for replica in aws_db_instance.replica : "${local.connect_arn_base}:${replica.resource_id}/${var.read_username}"],
  ) : []
}

resource "aws_db_proxy_default_target_group" "this" {
  count = var.create && var.create_proxy ? 1 : 0

  db_proxy_name = aws_db_proxy.this[0].name

  connection_pool_config {
    max_connections_percent      = var.proxy_max_connections_percent
    max_idle_connections_percent = floor(var.proxy_max_connections_percent / 2)
    connection_borrow_timeout    = 120
  }
}

resource "aws_db_proxy_target" "this" {
  count = var.create && var.create_proxy ? 1 : 0

  db_proxy_name          = aws_db_proxy.this[0].name
  target_group_name      = aws_db_proxy_default_target_group.this[0].name
  db_instance_identifier = aws_db_instance.this[0].identifier
}

################################################################################
# Alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "connections" {
  count = var.create && var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-db-connections"
  alarm_description   = "DatabaseConnections above ${var.connections_alarm_percent}% of max_connections (${local.max_connections}); the connection budget is being exhausted."
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this[0].identifier }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = floor(local.max_connections * var.connections_alarm_percent / 100)
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

# The proxy's own saturation signal: how long a client waits to borrow a database connection from its
# pool. It rises when the pool (max_connections_percent of max_connections) is exhausted, before
# clients time out (connection_borrow_timeout).
resource "aws_cloudwatch_metric_alarm" "proxy_borrow_latency" {
  count = var.create && var.create_proxy && var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-db-proxy-borrow-latency"
  alarm_description   = "RDS Proxy ${var.name}: clients wait more than ${var.proxy_borrow_latency_alarm_ms} ms for a database connection (pool exhausted)."
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnectionsBorrowLatency"
  dimensions          = { ProxyName = aws_db_proxy.this[0].name }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  # The metric is in microseconds.
  threshold           = var.proxy_borrow_latency_alarm_ms * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
