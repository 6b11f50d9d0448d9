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

  create_github_provider = var.create_github_oidc && var.create_github_oidc_provider && var.github_oidc_provider_arn == null
  # The account's provider, created here or by terraform/bootstrap (its ARN follows from the URL).
  account_github_provider_arn = "arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"
  github_provider_arn = (
    local.create_github_provider ? try(aws_iam_openid_connect_provider.github[0].arn, null) :
    var.github_oidc_provider_arn != null ? var.github_oidc_provider_arn : local.account_github_provider_arn
  )

  # SSE-KMS on S3 and SQS: the tasks use the stack key only through those services, never directly.
  via_data_services = ["s3.${local.region}.amazonaws.com", "sqs.${local.region}.amazonaws.com"]

  models_objects  = var.models_bucket_arn == null ? [] : ["${var.models_bucket_arn}/${var.models_prefix}*"]
  uploads_objects = var.uploads_bucket_arn == null ? [] : ["${var.uploads_bucket_arn}/${var.uploads_prefix}*"]
  results_objects = var.uploads_bucket_arn == null ? [] : ["${var.uploads_bucket_arn}/${var.results_prefix}*"]
  buckets         = compact([var.models_bucket_arn, var.uploads_bucket_arn])
}

################################################################################
# Task execution role
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Confused-deputy protection: only ECS tasks of this account and region.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "execution" {
  count = var.create_task_roles ? 1 : 0

  name                 = "${var.name}-ecs-execution"
  description          = "ECS agent: pull the image, write container logs, inject secrets"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  count = var.create_task_roles ? 1 : 0

  # GetAuthorizationToken has no resource-level permissions; it only returns
  # a registry login token, image access is scoped by the statement below.
  statement {
    sid       = "ECRAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(var.ecr_repository_arns) > 0 ? [1] : []

    content {
      sid = "ECRPull"
      actions = [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
      ]
      resources = var.ecr_repository_arns
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for arn in var.log_group_arns : "${arn}:log-stream:*"]
  }

  # No secrets to inject: the tasks authenticate to the database with IAM (task role, rds-db:connect).
}

resource "aws_iam_role_policy" "execution" {
  count = var.create_task_roles ? 1 : 0

  name   = "execution"
  role   = aws_iam_role.execution[0].id
  policy = data.aws_iam_policy_document.execution[0].json
}

################################################################################
# Task roles
################################################################################

resource "aws_iam_role" "api" {
  count = var.create_task_roles ? 1 : 0

  name                 = "${var.name}-api-task"
  description          = "Model-serving API: read models, issue upload URLs, enqueue jobs, read results"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "api" {
  count = var.create_task_roles ? 1 : 0

  # HeadBucket (readiness) and 404-vs-403 on missing keys need ListBucket.
  statement {
    sid       = "ListOwnBuckets"
    actions   = ["s3:ListBucket"]
    resources = local.buckets
  }

  statement {
    sid       = "ReadModels"
    actions   = ["s3:GetObject"]
    resources = local.models_objects
  }

  # Pre-signed upload URLs are signed with these credentials, so the task
  # role itself must be allowed to PutObject under uploads/.
  statement {
    sid       = "WriteUploadsAndResults"
    actions   = ["s3:PutObject"]
    resources = concat(local.uploads_objects, local.results_objects)
  }

  statement {
    sid       = "ReadResults"
    actions   = ["s3:GetObject"]
    resources = local.results_objects
  }

  statement {
    sid       = "EnqueueJobs"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [var.queue_arn]
  }

  # As the application role, with a 15-minute IAM token per connection: no password to inject or rotate.
  dynamic "statement" {
    for_each = length(var.api_database_connect_arns) > 0 ? [1] : []

    content {
      sid       = "ConnectToDatabase"
      actions   = ["rds-db:connect"]
      resources = var.api_database_connect_arns
    }
  }

  # Redis as its own user, with a 15-minute IAM token (RBAC): no AUTH token or password anywhere.
  dynamic "statement" {
    for_each = length(var.api_cache_connect_arns) > 0 ? [1] : []

    content {
      sid       = "ConnectToCache"
      actions   = ["elasticache:Connect"]
      resources = var.api_cache_connect_arns
    }
  }

  # SSE-KMS on S3 and SQS: GenerateDataKey to write, Decrypt to read, and only through those services.
  statement {
    sid       = "UseStackKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.via_data_services
    }
  }
}

resource "aws_iam_role_policy" "api" {
  count = var.create_task_roles ? 1 : 0

  name   = "api"
  role   = aws_iam_role.api[0].id
  policy = data.aws_iam_policy_document.api[0].json
}

resource "aws_iam_role" "worker" {
  count = var.create_task_roles ? 1 : 0

  name                 = "${var.name}-worker-task"
  description          = "Job worker: consume jobs, read models and uploads, write results"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "worker" {
  count = var.create_task_roles ? 1 : 0

  statement {
    sid       = "ListOwnBuckets"
    actions   = ["s3:ListBucket"]
    resources = local.buckets
  }

  statement {
    sid       = "ReadModelsAndUploads"
    actions   = ["s3:GetObject"]
    resources = concat(local.models_objects, local.uploads_objects)
  }

  statement {
    sid       = "WriteResults"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = local.results_objects
  }

  statement {
    sid = "ConsumeJobs"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [var.queue_arn]
  }

  dynamic "statement" {
    for_each = length(var.worker_database_connect_arns) > 0 ? [1] : []

    content {
      sid       = "ConnectToDatabase"
      actions   = ["rds-db:connect"]
      resources = var.worker_database_connect_arns
    }
  }

  statement {
    sid       = "UseStackKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.via_data_services
    }
  }
}

resource "aws_iam_role_policy" "worker" {
  count = var.create_task_roles ? 1 : 0

  name   = "worker"
  role   = aws_iam_role.worker[0].id
  policy = data.aws_iam_policy_document.worker[0].json
}

# A job may run longer than ECS waits between SIGTERM and SIGKILL (stopTimeout, 120 s at most on Fargate).
# The worker protects its own task from scale-in while it holds a message (the ECS agent's
# task-protection endpoint, app/modelserve/protection.py), so a scale-in stops idle workers only. The
# agent calls UpdateTaskProtection with these credentials; the tasks of one cluster are all it may touch.
# Spot reclaims are not scale-in: a reclaimed job is redelivered after the visibility timeout.
resource "aws_iam_role_policy" "worker_task_protection" {
  count = var.create_task_roles && var.worker_cluster_name != null ? 1 : 0

  name = "task-scale-in-protection"
  role = aws_iam_role.worker[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ProtectOwnTasksWhileBusy"
      Effect   = "Allow"
      Action   = ["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"]
      Resource = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${var.worker_cluster_name}/*"
    }]
  })
}

################################################################################
# GitHub Actions OIDC
################################################################################

# One provider per account and URL: set github_oidc_provider_arn to reuse an
# existing one instead of creating it (e.g. a second environment in the same
# account).
resource "aws_iam_openid_connect_provider" "github" {
  count = local.create_github_provider ? 1 : 0

  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.github_oidc_thumbprints

  tags = var.tags
}

data "aws_iam_policy_document" "github_assume" {
  count = var.create_github_oidc ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # One exact subject (no wildcards): jobs running in the protected GitHub environment of this one
    # repository. Not the branch as well: a workflow on main outside the environment would then roll
    # the services without the environment's approval.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.github_environment}"]
    }
  }
}

# The image build runs on the branch before the approval (so that the approved deploy only rolls out):
# its role may push to the repository and nothing else. Tags are immutable, and a pushed image runs only
# once an approved apply names its tag.
data "aws_iam_policy_document" "github_push_assume" {
  count = var.create_github_oidc && length(var.ecr_repository_arns) > 0 ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:ref:refs/heads/${var.github_branch}"]
    }
  }
}

resource "aws_iam_role" "github_push" {
  count = var.create_github_oidc && length(var.ecr_repository_arns) > 0 ? 1 : 0

  name                 = "${var.name}-github-push"
  description          = "GitHub Actions (${var.github_repository}, ${var.github_branch}): push the application image"
  assume_role_policy   = data.aws_iam_policy_document.github_push_assume[0].json
  permissions_boundary = var.permissions_boundary_arn
  max_session_duration = 3600

  tags = var.tags
}

resource "aws_iam_role_policy" "github_push" {
  count = var.create_github_oidc && length(var.ecr_repository_arns) > 0 ? 1 : 0

  name = "push-image"
  role = aws_iam_role.github_push[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # GetAuthorizationToken has no resource-level permissions: it only returns a registry login.
      { Sid = "ECRAuth", Effect = "Allow", Action = "ecr:GetAuthorizationToken", Resource = "*" },
      {
        Sid    = "ECRPush"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
          "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
        ]
        Resource = var.ecr_repository_arns
      },
    ]
  })
}

resource "aws_iam_role" "github_deploy" {
  count = var.create_github_oidc ? 1 : 0

  name                 = "${var.name}-github-deploy"
  description          = "GitHub Actions (${var.github_repository}, environment ${var.github_environment}): roll the ECS services"
  assume_role_policy   = data.aws_iam_policy_document.github_assume[0].json
  permissions_boundary = var.permissions_boundary_arn
  max_session_duration = 3600

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.github_repository != null
      error_message = "github_repository (owner/name) is required when create_github_oidc is true."
    }
  }
}

data "aws_iam_policy_document" "github_deploy" {
  count = var.create_github_oidc ? 1 : 0

  # Task definition registration has no resource-level permissions in IAM.
  statement {
    sid       = "RegisterTaskDefinitions"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(var.ecs_service_arns) > 0 ? [1] : []

    content {
      sid       = "RollServices"
      actions   = ["ecs:UpdateService", "ecs:DescribeServices"]
      resources = var.ecs_service_arns
    }
  }

  # The deploy's asset step: sync the repository's assets/ into the bucket, then invalidate the
  # distribution's cache (the bucket is SSE-KMS, so the key is used through S3 only).
  dynamic "statement" {
    for_each = var.deploy_assets ? [1] : []

    content {
      sid       = "SyncAssets"
      actions   = ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = [var.assets_bucket_arn, "${var.assets_bucket_arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.deploy_assets ? [1] : []

    content {
      sid       = "EncryptAssets"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.deploy_assets ? [1] : []

    content {
      sid       = "InvalidateAssets"
      actions   = ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"]
      resources = [var.cloudfront_distribution_arn]
    }
  }

  dynamic "statement" {
    for_each = var.create_task_roles ? [1] : []

    content {
      sid       = "PassTaskRoles"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.execution[0].arn, aws_iam_role.api[0].arn, aws_iam_role.worker[0].arn]

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["ecs-tasks.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "github_deploy" {
  count = var.create_github_oidc ? 1 : 0

  name   = "deploy"
  role   = aws_iam_role.github_deploy[0].id
  policy = data.aws_iam_policy_document.github_deploy[0].json
}
