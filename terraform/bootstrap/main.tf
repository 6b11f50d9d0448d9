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

locals {
  # The CI roles live under their own path, outside the stack's name prefix: the apply role may manage
  # `role/${resource_prefix}*`, and `role/ci/${resource_prefix}ci-terraform` is not one of them. An explicit
  # Deny on the path says the same thing again, so a wider grant added later cannot reach them either.
  ci_role_path    = "/ci/"
  ci_roles_arn    = "arn:${local.partition}:iam::${local.account_id}:role${local.ci_role_path}*"
  stack_roles_arn = "arn:${local.partition}:iam::${local.account_id}:role/${var.resource_prefix}*"
  boundary_name   = "${var.resource_prefix}workload-boundary"
  boundary_arn    = "arn:${local.partition}:iam::${local.account_id}:policy/${local.boundary_name}"
  # Spelled out rather than read from the resources, so that every policy below is known at plan time
  # (a reviewer reads the whole IAM change in the plan; stackprobe's harness judges it from there too).
  state_bucket_arn = "arn:${local.partition}:s3:::${local.state_bucket}"
  state_objects    = "${local.state_bucket_arn}/${var.state_key_prefix}*"
  github_provider  = "arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"
  github_audiences = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "trust" {
  #checkov:skip=CKV_AWS_358:Each role trusts one exact subject (repo:OWNER/REPO:ref:refs/heads/main, :pull_request or :environment:NAME) with StringEquals; checkov cannot resolve each.value. stackprobe's iam.oidc-trust-scope judges them (tests/harness/test_bootstrap_roles.py).
  for_each = {
    # Plans of main (the plan that will be applied): refresh included, so the role reads what refresh reads.
    plan = ["repo:${var.github_repository}:ref:refs/heads/main"]
    # Plans of same-repository pull requests: configuration and state only, never data (see plan_pr).
    plan_pr = ["repo:${var.github_repository}:pull_request"]
    # Applies run only in the protected environment (required reviewers, main only).
    apply = ["repo:${var.github_repository}:environment:${var.apply_environment}"]
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_provider]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = local.github_audiences
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

################################################################################
# Permissions boundary of every role the stack creates
################################################################################

# The apply role may create and change the stack's roles only with this boundary on them, so nothing it
# creates can do more than the boundary allows: no IAM, Organizations or account administration (the
# deploy role's iam:PassRole of the stack's own roles to ECS tasks excepted). Without it, a role the apply
# role writes an administrator policy into, passed to a task or function the apply role starts, would be
# an administrator one step away.
resource "aws_iam_policy" "workload_boundary" {
  #checkov:skip=CKV_AWS_286:A permissions boundary grants nothing: it is the ceiling of the stack's roles, whose own policies are scoped; IAM administration is what it leaves out.
  #checkov:skip=CKV_AWS_287:A permissions boundary grants nothing; the roles' own policies decide what they read.
  #checkov:skip=CKV_AWS_288:A permissions boundary grants nothing; the roles' own policies decide what they read.
  #checkov:skip=CKV_AWS_289:A permissions boundary grants nothing; it keeps permissions management out of the stack's roles.
  #checkov:skip=CKV_AWS_290:A permissions boundary grants nothing; the roles' own policies decide what they write.
  #checkov:skip=CKV_AWS_355:A boundary must cover every resource the stack's roles may be granted; their own policies are scoped.
  name        = local.boundary_name
  description = "Permissions boundary of every IAM role of the ${var.resource_prefix} stack"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllButIdentityAdministration"
        Effect    = "Allow"
        NotAction = ["iam:*", "organizations:*", "account:*"]
        Resource  = "*"
      },
      {
        Sid      = "PassStackRolesToTasks"
        Effect   = "Allow"
        Action   = ["iam:PassRole", "iam:GetRole"]
        Resource = local.stack_roles_arn
      },
    ]
  })
}

################################################################################
# Plan roles: read configuration and state, change nothing
################################################################################

resource "aws_iam_role" "plan" {
  name                 = "${var.resource_prefix}ci-plan"
  path                 = local.ci_role_path
  description          = "GitHub Actions (${var.github_repository}, main): terraform plan with refresh, read-only"
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = 3600

  # The trust names the provider by its ARN (known at plan time); create it first.
  depends_on = [aws_iam_openid_connect_provider.github]
}

resource "aws_iam_role" "plan_pr" {
  name                 = "${var.resource_prefix}ci-plan-pr"
  path                 = local.ci_role_path
  description          = "GitHub Actions (${var.github_repository}, pull requests): terraform plan -refresh=false, configuration and state only"
  assume_role_policy   = data.aws_iam_policy_document.trust["plan_pr"].json
  max_session_duration = 3600

  # The trust names the provider by its ARN (known at plan time); create it first.
  depends_on = [aws_iam_openid_connect_provider.github]
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  for_each = { plan = aws_iam_role.plan.name, plan_pr = aws_iam_role.plan_pr.name }

  role       = each.value
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

# ReadOnlyAccess reads objects already; stated for the state so that removing the managed policy later
# does not silently break plans. Plans run with -lock=false: these roles cannot write the lock file.
resource "aws_iam_role_policy" "plan_state" {
  for_each = { plan = aws_iam_role.plan.name, plan_pr = aws_iam_role.plan_pr.name }

  name = "read-state"
  role = each.value
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = "s3:ListBucket", Resource = local.state_bucket_arn },
      { Effect = "Allow", Action = "s3:GetObject", Resource = local.state_objects },
    ]
  })
}

# A refresh reads what the stack manages, secret versions included (the provider reads a version to
# refresh it): only the plan of main, which runs code that was reviewed, may do that.
resource "aws_iam_role_policy" "plan_refresh_secrets" {
  name = "refresh-stack-secrets"
  role = aws_iam_role.plan.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = "arn:${local.partition}:secretsmanager:*:${local.account_id}:secret:${var.resource_prefix}*"
      },
      {
        Effect    = "Allow"
        Action    = "kms:Decrypt"
        Resource  = "arn:${local.partition}:kms:*:${local.account_id}:key/*"
        Condition = { StringLike = { "kms:ViaService" = "secretsmanager.*.amazonaws.com" } }
      },
    ]
  })
}

# A pull request's workflow runs code nobody has reviewed yet. Its plan (terraform plan -refresh=false)
# needs the configuration's metadata and the state, never the data the account holds: ReadOnlyAccess
# would let it read every object, message, log line, parameter and image, so those reads are denied.
resource "aws_iam_role_policy" "plan_pr_no_data" {
  name = "no-data-reads"
  role = aws_iam_role.plan_pr.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid         = "NoObjectsButTheState"
        Effect      = "Deny"
        Action      = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectTorrent"]
        NotResource = [local.state_objects]
      },
      {
        Sid    = "NoDataReads"
        Effect = "Deny"
        Action = [
          "secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue",
          "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory",
          "kms:Decrypt", "sqs:ReceiveMessage",
          "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
          "logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults", "logs:StartLiveTail",
          "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "lambda:GetFunction",
          "rds:DownloadDBLogFilePortion", "rds:DownloadCompleteDBLogFile",
          "kinesis:GetRecords", "athena:GetQueryResults",
        ]
        Resource = "*"
      },
    ]
  })
}

################################################################################
# Apply role: everything the stack manages, nothing it could grant itself
################################################################################

resource "aws_iam_role" "apply" {
  name                 = "${var.resource_prefix}ci-terraform"
  path                 = local.ci_role_path
  description          = "GitHub Actions (${var.github_repository}, environment ${var.apply_environment}): terraform apply"
  assume_role_policy   = data.aws_iam_policy_document.trust["apply"].json
  max_session_duration = 3600

  # The trust names the provider by its ARN (known at plan time); create it first.
  depends_on = [aws_iam_openid_connect_provider.github]
}

# PowerUserAccess covers every service the stack uses except IAM and Organizations. IAM comes below, only
# for the stack's own roles (its resource_prefix), and only with the workload boundary on them: the apply
# role is not one of them (its path is /ci/), cannot lift or rewrite the boundary, and whatever role it
# writes, passes or attaches a policy to can do no more than the boundary allows.
resource "aws_iam_role_policy_attachment" "apply_power_user" {
  role       = aws_iam_role.apply.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/PowerUserAccess"
}

resource "aws_iam_role_policy" "apply_iam" {
  #checkov:skip=CKV_AWS_355:iam:Get*/List* on * are reads the provider needs to refresh any role or policy it references.
  #checkov:skip=CKV_AWS_290:Writes are limited to the stack's own roles by name prefix, each under the workload boundary.
  #checkov:skip=CKV_AWS_289:Permissions management is limited to the stack's own roles by name prefix, each under the workload boundary.
  name = "manage-stack-iam"
  role = aws_iam_role.apply.name
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
        # Every call that gives a role permissions names the boundary it must carry.
        Sid    = "WriteBoundedStackRoles"
        Effect = "Allow"
        Action = [
          "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy",
          "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
        ]
        Resource  = local.stack_roles_arn
        Condition = { StringEquals = { "iam:PermissionsBoundary" = local.boundary_arn } }
      },
      {
        Sid    = "ManageStackRoles"
        Effect = "Allow"
        Action = [
          "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
          "iam:TagRole", "iam:UntagRole", "iam:PassRole",
        ]
        Resource = local.stack_roles_arn
      },
      {
        Sid    = "NeverTheCiRolesNorTheBoundary"
        Effect = "Deny"
        Action = [
          "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
          "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
          "iam:DeleteRolePermissionsBoundary", "iam:PassRole", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion",
          "iam:DeletePolicyVersion", "iam:DeletePolicy",
        ]
        Resource = [local.ci_roles_arn, local.boundary_arn]
      },
      {
        Sid      = "NeverLiftABoundary"
        Effect   = "Deny"
        Action   = "iam:DeleteRolePermissionsBoundary"
        Resource = "*"
      },
      {
        Sid      = "WriteStateLock"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:DeleteObject"]
        Resource = local.state_objects
      },
    ]
  })
}
