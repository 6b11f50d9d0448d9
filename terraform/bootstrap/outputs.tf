output "state_bucket" {
  description = "The state bucket (bucket = ... in each environment's .s3.tfbackend)."
  value       = aws_s3_bucket.state.id
}

output "github_oidc_provider_arn" {
  description = "The account's GitHub OIDC provider (the stack's deploy role trusts it: create_github_oidc_provider = false)."
  value       = aws_iam_openid_connect_provider.github.arn
}

output "plan_role_arn" {
  description = "vars.AWS_PLAN_ROLE_ARN of deploy.yml: terraform plan (with refresh) on main."
  value       = aws_iam_role.plan.arn
}

output "terraform_role_arn" {
  description = "vars.AWS_TERRAFORM_ROLE_ARN of deploy.yml: terraform apply in the prod environment."
  value       = aws_iam_role.apply.arn
}

output "plan_pr_role_arn" {
  description = "vars.AWS_PLAN_PR_ROLE_ARN of deploy.yml: terraform plan -refresh=false on pull requests (no data reads)."
  value       = aws_iam_role.plan_pr.arn
}

output "workload_boundary_arn" {
  description = "The permissions boundary every stack role carries (the stack's iam_permissions_boundary_name names it)."
  value       = aws_iam_policy.workload_boundary.arn
}
