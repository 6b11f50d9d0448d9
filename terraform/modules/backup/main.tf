################################################################################
# General
################################################################################

data "aws_partition" "current" {}

################################################################################
# Vault
################################################################################

resource "aws_backup_vault" "this" {
  count = var.create ? 1 : 0

  # No force_destroy: recovery points are the point of the vault. A vault
  # that still holds recovery points cannot be deleted; expire or delete them
  # first (a fresh test stack has none, the first backup runs at 05:00 UTC).
  name        = var.name
  kms_key_arn = var.kms_key_arn

  tags = var.tags
}

################################################################################
# Plan
################################################################################

resource "aws_backup_plan" "this" {
  count = var.create ? 1 : 0

  name = var.name

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.this[0].name
    # 05:00 UTC: after the RDS automated backup window, outside peak hours.
    schedule                     = var.schedule
    schedule_expression_timezone = "UTC"
    start_window                 = 60
    completion_window            = 360

    lifecycle {
      delete_after = var.retention_days
    }

    recovery_point_tags = var.tags
  }

  tags = var.tags
}

################################################################################
# Selection
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  count = var.create ? 1 : 0

  name_prefix        = "${substr(var.name, 0, 30)}-backup-"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

# S3 backup and restore need their own managed policies in addition to the
# generic ones.
resource "aws_iam_role_policy_attachment" "this" {
  for_each = var.create ? toset([
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
  ]) : toset([])

  role       = aws_iam_role.this[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.value}"
}

resource "aws_backup_selection" "this" {
  count = var.create ? 1 : 0

  name         = var.name
  plan_id      = aws_backup_plan.this[0].id
  iam_role_arn = aws_iam_role.this[0].arn
  resources    = var.resource_arns

  depends_on = [aws_iam_role_policy_attachment.this]

  lifecycle {
    precondition {
      condition     = length(var.resource_arns) > 0
      error_message = "resource_arns must list at least one resource to back up."
    }
  }
}
