data "aws_caller_identity" "current" {}

resource "aws_kms_key" "main" {
  description         = "ingest: queue, secrets and logs"
  enable_key_rotation = true

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "Account"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "Logs"
        Effect    = "Allow"
        Principal = { Service = "logs.eu-west-1.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_sqs_queue" "ingest_dlq" {
  name                      = "${local.name}-dlq"
  kms_master_key_id         = aws_kms_key.main.id
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "ingest" {
  name                       = local.name
  kms_master_key_id          = aws_kms_key.main.id
  visibility_timeout_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.ingest_dlq.arn
    maxReceiveCount     = 4
  })
}

resource "aws_secretsmanager_secret" "warehouse" {
  name                    = "${local.name}/warehouse"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 0
}
