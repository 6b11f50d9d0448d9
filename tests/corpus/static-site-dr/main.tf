# ------------------------------------------------------------------ access logs

resource "aws_s3_bucket" "logs" {
  bucket        = "${var.site_name}-logs"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "S3ServerAccessLogs"
      Effect    = "Allow"
      Principal = { Service = "logging.s3.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "${aws_s3_bucket.logs.arn}/site/*"
    }]
  })
}

# ------------------------------------------------------------------ site

resource "aws_s3_bucket" "site" {
  bucket        = var.site_name
  force_destroy = true
}

resource "aws_s3_bucket_versioning" "site" {
  bucket = aws_s3_bucket.site.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_logging" "site" {
  bucket        = aws_s3_bucket.site.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "site/"

  depends_on = [aws_s3_bucket_policy.logs]
}

# ------------------------------------------------------------------ DR copy

resource "aws_s3_bucket" "site_dr" {
  provider = aws.dr

  bucket        = "${var.site_name}-dr"
  force_destroy = true
}

resource "aws_s3_bucket_versioning" "site_dr" {
  provider = aws.dr

  bucket = aws_s3_bucket.site_dr.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "site_dr" {
  provider = aws.dr

  bucket                  = aws_s3_bucket.site_dr.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
