output "ecr_repository_url" {
  value = aws_ecr_repository.worker.repository_url
}

output "images_bucket" {
  value = aws_s3_bucket.images.bucket
}

output "db_endpoint" {
  value = aws_db_instance.main.endpoint
}

output "ci_access_key_id" {
  description = "Paste into the GitHub repository secret AWS_ACCESS_KEY_ID."
  value       = aws_iam_access_key.ci.id
}

output "ci_secret_access_key" {
  description = "Paste into the GitHub repository secret AWS_SECRET_ACCESS_KEY (terraform output -raw ci_secret_access_key)."
  value       = aws_iam_access_key.ci.secret
  sensitive   = true
}

output "training_instance_id" {
  value = aws_instance.training.id
}
