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

# Vault Lock: recovery points cannot be deleted before min_retention_days, nor kept past max, by anyone
# who can use the vault (a compromised deploy or admin session included). Governance mode by default: a
# principal with backup:DeleteBackupVaultLockConfiguration can still lift it. lock_changeable_for_days
# turns it into compliance mode after that many days, which nobody (AWS included) can undo.
resource "aws_backup_vault_lock_configuration" "this" {
  count = var.create ? 1 : 0

  backup_vault_name   = aws_backup_vault.this[0].name
  min_retention_days  = var.retention_days
  max_retention_days  = var.max_retention_days
  changeable_for_days = var.lock_changeable_for_days
}

################################################################################
# Copy in another region
################################################################################

locals {
  copy = var.create && var.copy_region != null
}

data "aws_caller_identity" "copy" {
  count    = local.copy ? 1 : 0
  provider = aws.copy
}

# The account administers the key (IAM decides who); AWS Backup uses it for the copies it writes, as the
# service of this account only.
data "aws_iam_policy_document" "copy_key" {
  #checkov:skip=CKV_AWS_109:Key policy: "Resource": "*" means this key only, and kms:* for the account root is AWS's default statement that delegates access control to IAM.
  #checkov:skip=CKV_AWS_111:Key policy: see CKV_AWS_109; AWS Backup's statement is limited to this account (aws:SourceAccount).
  #checkov:skip=CKV_AWS_356:Key policy: in a key policy "Resource": "*" can only refer to the key the policy is attached to.
  count = local.copy ? 1 : 0

  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.copy[0].account_id}:root"]
    }
  }

  statement {
    sid       = "BackupCopies"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.copy[0].account_id]
    }
  }
}

# A regional outage or a deleted source region's key must not take the backups with it. The copy vault
# has its own key in the copy region (a KMS key never leaves its region).
resource "aws_kms_key" "copy" {
  count    = local.copy ? 1 : 0
  provider = aws.copy

  description             = "${var.name}: AWS Backup copies in ${var.copy_region}"
  policy                  = data.aws_iam_policy_document.copy_key[0].json
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30

  tags = var.tags
}

resource "aws_backup_vault" "copy" {
  count    = local.copy ? 1 : 0
  provider = aws.copy

  name        = "${var.name}-copy"
  kms_key_arn = aws_kms_key.copy[0].arn

  tags = var.tags
}

resource "aws_backup_vault_lock_configuration" "copy" {
  count    = local.copy ? 1 : 0
  provider = aws.copy

  backup_vault_name   = aws_backup_vault.copy[0].name
  min_retention_days  = var.retention_days
  max_retention_days  = var.max_retention_days
  changeable_for_days = var.lock_changeable_for_days
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

    dynamic "copy_action" {
      for_each = local.copy ? [aws_backup_vault.copy[0].arn] : []

      content {
        destination_vault_arn = copy_action.value

        lifecycle {
          delete_after = var.retention_days
        }
      }
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

  name_prefix          = "${substr(var.name, 0, 30)}-backup-"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn

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
