################################################################################
# Task execution role
################################################################################

output "execution_role_arn" {
  description = "ARN of the ECS task execution role."
  value       = try(aws_iam_role.execution[0].arn, null)
}

################################################################################
# Task roles
################################################################################

output "api_task_role_arn" {
  description = "ARN of the API task role."
  value       = try(aws_iam_role.api[0].arn, null)
}

output "worker_task_role_arn" {
  description = "ARN of the worker task role."
  value       = try(aws_iam_role.worker[0].arn, null)
}

################################################################################
# GitHub Actions OIDC
################################################################################

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider used by the deploy role."
  value       = local.github_provider_arn
}

output "github_deploy_role_arn" {
  description = "ARN of the GitHub Actions deploy role (use with aws-actions/configure-aws-credentials)."
  value       = try(aws_iam_role.github_deploy[0].arn, null)
}

output "github_push_role_arn" {
  description = "ARN of the GitHub Actions image push role (the build job on the branch: ECR push only)."
  value       = try(aws_iam_role.github_push[0].arn, null)
}
