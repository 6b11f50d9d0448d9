################################################################################
# General
################################################################################

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
}

################################################################################
# KMS key
################################################################################

data "aws_iam_policy_document" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_109:Key policy: "Resource": "*" means this key only, and the kms:* grant to the account root is the AWS default statement that delegates access control to IAM (prevents an unmanageable key).
  #checkov:skip=CKV_AWS_111:Key policy: see CKV_AWS_109; write access is constrained by IAM policies and the service statements' conditions.
  #checkov:skip=CKV_AWS_356:Key policy: in a key policy "Resource": "*" can only refer to the key the policy is attached to.
  # The account root statement is the AWS default key policy. Without it a key
  # can become unmanageable (only AWS Support can recover it); with it, access
  # is governed by IAM policies, which is where least privilege is enforced in
  # this stack (see the iam module).
  statement {
    sid       = "EnableIAMUserPermissions"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts as the service itself, not as the caller, so it
  # needs a key-policy grant. The encryption-context condition scopes it to log
  # groups of this account and region.
  statement {
    sid = "AllowCloudWatchLogs"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms publish to the KMS-encrypted SNS topic as the
  # cloudwatch.amazonaws.com principal; without this the publish fails silently.
  statement {
    sid       = "AllowCloudWatchAlarmsToEncryptedSNS"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # CloudFront origin access control reads SSE-KMS objects as the service
  # principal; scoped to distributions of this account.
  dynamic "statement" {
    for_each = var.allow_cloudfront ? [1] : []

    content {
      sid       = "AllowCloudFrontOACDecrypt"
      actions   = ["kms:Decrypt"]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["cloudfront.amazonaws.com"]
      }

      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = ["arn:${local.partition}:cloudfront::${local.account_id}:distribution/*"]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create ? 1 : 0

  description             = var.description
  deletion_window_in_days = var.deletion_window_in_days
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  policy                  = data.aws_iam_policy_document.this[0].json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.create ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}
