################################################################################
# General
################################################################################

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# Classic ELB log-delivery account of the current region. Regions launched
# after August 2022 use the logdelivery.elasticloadbalancing.amazonaws.com
# service principal instead; the logs bucket policy grants both.
data "aws_elb_service_account" "current" {
  count = var.create ? 1 : 0
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Bucket names are global: the account ID suffix avoids collisions between
  # accounts deploying the same project/environment name.
  data_bucket_keys = var.create ? concat(["models", "uploads"], var.create_assets_bucket ? ["assets"] : []) : []
  data_buckets     = { for k in local.data_bucket_keys : k => "${var.name}-${k}-${local.account_id}" }
  logs_bucket_name = "${var.name}-logs-${local.account_id}"
}

################################################################################
# Logs bucket
################################################################################

resource "aws_s3_bucket" "logs" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_145:ALB access-log delivery only supports SSE-S3 (AES256) on the target bucket; SSE-KMS makes delivery fail, so this bucket uses SSE-S3.
  #checkov:skip=CKV_AWS_18:This is the access-log target bucket; logging it to itself would create a feedback loop of log objects.
  #checkov:skip=CKV_AWS_144:Logs are operational data reproducible from the services; cross-region replication is not worth the cost here.
  #checkov:skip=CKV2_AWS_62:No consumer reacts to new log objects; event notifications would be unused.
  bucket        = local.logs_bucket_name
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = local.logs_bucket_name, Purpose = "access-logs" })
}

resource "aws_s3_bucket_public_access_block" "logs" {
  count = var.create ? 1 : 0

  bucket                  = aws_s3_bucket.logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  # ACLs disabled: ALB and S3 server access logging both deliver via the
  # bucket policy below, so no log-delivery ACL is needed.
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  # SSE-S3, not SSE-KMS: ALB access-log delivery does not support KMS-encrypted
  # target buckets (objects are silently not delivered).
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }

    expiration {
      days = var.logs_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_iam_policy_document" "logs" {
  count = var.create ? 1 : 0

  # Principal {"AWS": "*"} rather than "*": identical meaning for a Deny on
  # AWS, and it keeps S3 access-logging validators that reject bare "*" happy.
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs[0].arn, "${aws_s3_bucket.logs[0].arn}/*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "AllowALBLogDeliveryLegacyRegions"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs[0].arn}/alb/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current[0].arn]
    }
  }

  statement {
    sid       = "AllowALBLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs[0].arn}/alb/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  # One statement per source bucket: each may only write under its own
  # prefix (s3/<bucket>/), matching target_prefix in aws_s3_bucket_logging.
  dynamic "statement" {
    for_each = local.data_buckets

    content {
      sid       = "AllowS3ServerAccessLogs${title(statement.key)}"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.logs[0].arn}/s3/${statement.value}/*"]

      principals {
        type        = "Service"
        identifiers = ["logging.s3.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }

      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = ["arn:${local.partition}:s3:::${statement.value}"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id
  policy = data.aws_iam_policy_document.logs[0].json

  # PutBucketPolicy is rejected while the public access block is being applied.
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

################################################################################
# Data buckets
################################################################################

resource "aws_s3_bucket" "this" {
  for_each = local.data_buckets

  #checkov:skip=CKV_AWS_144:Single-region service; versioning + AWS Backup cover recovery, cross-region replication is out of scope.
  #checkov:skip=CKV2_AWS_62:The application learns about uploads through the jobs queue, not S3 event notifications.
  bucket        = each.value
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = each.value, Purpose = each.key })
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.data_buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.this[each.key].id

  # The S3 bucket key cuts KMS request costs by ~99% for high-volume
  # prefixes such as uploads; it changes nothing about who can decrypt.
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.this[each.key].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.data_buckets

  #checkov:skip=CKV_AWS_300:Every rule of every bucket aborts incomplete multipart uploads after 7 days; the rules are dynamic blocks (per bucket), which checkov does not expand.
  bucket = aws_s3_bucket.this[each.key].id

  # Models and uploads: noncurrent versions (overwrites, deletes) and abandoned
  # multipart uploads would otherwise be billed forever.
  dynamic "rule" {
    for_each = each.key == "assets" ? [] : [1]

    content {
      id     = "noncurrent-versions"
      status = "Enabled"

      filter {}

      noncurrent_version_expiration {
        noncurrent_days = var.noncurrent_version_expiration_days
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  # Assets: the deploy's sync replaces and deletes files (aws s3 sync --delete), which leaves the
  # previous release's files as noncurrent versions. They are the archive: kept for
  # assets_archive_days so an old match page can be restored, in cheaper classes as they age (Glacier
  # Instant Retrieval still serves a restore at once).
  dynamic "rule" {
    for_each = each.key == "assets" ? [1] : []

    content {
      id     = "assets-archive-previous-releases"
      status = "Enabled"

      filter {}

      noncurrent_version_transition {
        noncurrent_days = 30
        storage_class   = "STANDARD_IA"
      }

      noncurrent_version_transition {
        noncurrent_days = 90
        storage_class   = "GLACIER_IR"
      }

      noncurrent_version_expiration {
        noncurrent_days = var.assets_archive_days
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  # Assets the team retires on purpose (a finished season's pages) move under archive/: still served,
  # rarely read, so Glacier Instant Retrieval after 30 days.
  dynamic "rule" {
    for_each = each.key == "assets" ? [1] : []

    content {
      id     = "assets-archive-prefix"
      status = "Enabled"

      filter {
        prefix = "archive/"
      }

      transition {
        days          = 30
        storage_class = "GLACIER_IR"
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  # Uploads are transient job inputs/results: cool them down, then expire.
  dynamic "rule" {
    for_each = each.key == "uploads" ? [1] : []

    content {
      id     = "uploads-transition-expire"
      status = "Enabled"

      filter {}

      transition {
        days          = var.uploads_transition_days
        storage_class = "STANDARD_IA"
      }

      expiration {
        days = var.uploads_expiration_days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  for_each = local.data_buckets

  bucket        = aws_s3_bucket.this[each.key].id
  target_bucket = aws_s3_bucket.logs[0].id
  target_prefix = "s3/${each.value}/"

  depends_on = [aws_s3_bucket_policy.logs]
}

# Browsers PUT directly to S3 with the pre-signed URL from GET /upload-url, so
# only the uploads bucket needs CORS, and only for the known front-end origins.
resource "aws_s3_bucket_cors_configuration" "uploads" {
  count = var.create && length(var.uploads_cors_allowed_origins) > 0 ? 1 : 0

  bucket = aws_s3_bucket.this["uploads"].id

  cors_rule {
    allowed_methods = ["PUT", "POST"]
    allowed_origins = var.uploads_cors_allowed_origins
    allowed_headers = ["content-type", "content-md5", "x-amz-*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

data "aws_iam_policy_document" "this" {
  for_each = local.data_buckets

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this[each.key].arn, "${aws_s3_bucket.this[each.key].arn}/*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Static assets are private; only the stack's CloudFront distribution reads
  # them through origin access control.
  dynamic "statement" {
    for_each = each.key == "assets" ? [1] : []

    content {
      sid       = "AllowCloudFrontOAC"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.this[each.key].arn}/*"]

      principals {
        type        = "Service"
        identifiers = ["cloudfront.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceArn"
        values   = [var.assets_cloudfront_distribution_arn]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.this[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
