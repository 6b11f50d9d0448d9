# Applied once per account, by an administrator, before the stack: what the stack's CI needs and the
# stack cannot create for itself (it cannot create the role that first applies it). The GitHub OIDC
# provider lives here too, one per account, so stack tfvars set create_github_oidc_provider = false.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = { ManagedBy = "terraform", Stack = "bootstrap" }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  state_bucket = "${trimsuffix(var.resource_prefix, "-")}-tfstate-${local.account_id}"
}

################################################################################
# State bucket
################################################################################

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_144:State of one region's stack; versioning is the recovery path, replication is not worth it here.
  #checkov:skip=CKV_AWS_18:Who reads or writes the state is in CloudTrail; server access logs would add nothing.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to state changes.
  #checkov:skip=CKV2_AWS_61:State versions are the recovery path and small; they are kept, not expired.
  #checkov:skip=CKV_AWS_145:SSE-S3 keeps the bootstrap free of a KMS key the stack would then depend on; access is limited by IAM and the TLS-only policy.
  bucket = local.state_bucket
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.state]
}

################################################################################
# GitHub OIDC provider
################################################################################

resource "aws_iam_openid_connect_provider" "github" {
  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
}

data "aws_iam_policy_document" "trust" {
  for_each = {
    # Plans run on pull requests of this repository and on main.
    plan = ["repo:${var.github_repository}:pull_request", "repo:${var.github_repository}:ref:refs/heads/main"]
    # Applies run only in the protected environment (required reviewers, main only).
    apply = ["repo:${var.github_repository}:environment:${var.apply_environment}"]
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

################################################################################
# Plan role: read everything, change nothing
################################################################################

resource "aws_iam_role" "plan" {
  name                 = "${var.resource_prefix}ci-plan"
  description          = "GitHub Actions (${var.github_repository}): terraform plan, read-only"
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

# ReadOnlyAccess reads objects already; stated for the state so that removing the managed policy later
# does not silently break plans. Plans run with -lock=false: this role cannot write the lock file.
resource "aws_iam_role_policy" "plan_state" {
  name = "read-state"
  role = aws_iam_role.plan.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = "s3:ListBucket", Resource = aws_s3_bucket.state.arn },
      { Effect = "Allow", Action = "s3:GetObject", Resource = "${aws_s3_bucket.state.arn}/${var.state_key_prefix}*" },
    ]
  })
}

################################################################################
# Apply role: everything the stack manages
################################################################################

resource "aws_iam_role" "apply" {
  name                 = "${var.resource_prefix}ci-terraform"
  description          = "GitHub Actions (${var.github_repository}, environment ${var.apply_environment}): terraform apply"
  assume_role_policy   = data.aws_iam_policy_document.trust["apply"].json
  max_session_duration = 3600
}

# PowerUserAccess covers every service the stack uses except IAM and Organizations; IAM comes below, only
# for the stack's own roles and policies (its resource_prefix), so the role cannot grant itself more.
resource "aws_iam_role_policy_attachment" "apply_power_user" {
  role       = aws_iam_role.apply.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/PowerUserAccess"
}

resource "aws_iam_role_policy" "apply_iam" {
  #checkov:skip=CKV_AWS_355:iam:Get*/List* on * are reads the provider needs to refresh any role or policy it references.
  #checkov:skip=CKV_AWS_290:Writes are limited to the stack's own roles, policies and instance profiles by name prefix.
  #checkov:skip=CKV_AWS_289:Permissions management is limited to the stack's own roles by name prefix.
  name = "manage-stack-iam"
  role = aws_iam_role.apply.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadIam"
        Effect   = "Allow"
        Action   = ["iam:Get*", "iam:List*"]
        Resource = "*"
      },
      {
        Sid    = "ManageStackRoles"
        Effect = "Allow"
        Action = [
          "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole",
          "iam:UntagRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy",
          "iam:DetachRolePolicy", "iam:PassRole",
        ]
        Resource = "arn:${local.partition}:iam::${local.account_id}:role/${var.resource_prefix}*"
      },
      {
        Sid      = "WriteStateLock"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:DeleteObject"]
        Resource = "${aws_s3_bucket.state.arn}/${var.state_key_prefix}*"
      },
    ]
  })
}
