################################################################################
# Repository
################################################################################

output "repository_name" {
  description = "Name of the ECR repository."
  value       = try(aws_ecr_repository.this[0].name, null)
}

output "repository_arn" {
  description = "ARN of the ECR repository."
  value       = try(aws_ecr_repository.this[0].arn, null)
}

output "repository_url" {
  description = "URL of the ECR repository (<account>.dkr.ecr.<region>.amazonaws.com/<name>)."
  value       = try(aws_ecr_repository.this[0].repository_url, null)
}
