################################################################################
# Logs bucket
################################################################################

output "logs_bucket_id" {
  description = "Name of the logs bucket. Depends on its bucket policy, so consumers (ALB access logs) only start after delivery is permitted."
  value       = try(aws_s3_bucket.logs[0].id, null)
  depends_on  = [aws_s3_bucket_policy.logs]
}

output "logs_bucket_arn" {
  description = "ARN of the logs bucket."
  value       = try(aws_s3_bucket.logs[0].arn, null)
}

output "alb_logs_prefix" {
  description = "Prefix under which the ALB must write access logs (matches the bucket policy)."
  value       = "alb"
}

################################################################################
# Data buckets
################################################################################

output "models_bucket_id" {
  description = "Name of the models bucket."
  value       = try(aws_s3_bucket.this["models"].id, null)
}

output "models_bucket_arn" {
  description = "ARN of the models bucket."
  value       = try(aws_s3_bucket.this["models"].arn, null)
}

output "uploads_bucket_id" {
  description = "Name of the uploads bucket."
  value       = try(aws_s3_bucket.this["uploads"].id, null)
}

output "uploads_bucket_arn" {
  description = "ARN of the uploads bucket."
  value       = try(aws_s3_bucket.this["uploads"].arn, null)
}

output "assets_bucket_id" {
  description = "Name of the static assets bucket."
  value       = try(aws_s3_bucket.this["assets"].id, null)
}

output "assets_bucket_arn" {
  description = "ARN of the static assets bucket."
  value       = try(aws_s3_bucket.this["assets"].arn, null)
}

output "assets_bucket_regional_domain_name" {
  description = "Regional domain name of the assets bucket (CloudFront origin)."
  value       = try(aws_s3_bucket.this["assets"].bucket_regional_domain_name, null)
}

output "data_bucket_arns" {
  description = "ARNs of all data buckets (for AWS Backup selections)."
  value       = [for b in aws_s3_bucket.this : b.arn]
}
