# Subset for free LocalStack (community): only S3, VPC/EC2/security groups,
# KMS, Secrets Manager, CloudWatch Logs, CloudWatch, SNS, SQS and IAM.
# Everything backed by a Pro-only service is switched off.

environment = "dev"
image_tag   = "0.1.0"

az_count                   = 2
single_nat_gateway         = true
create_interface_endpoints = false
log_retention_in_days      = 7

create_edge        = false # ELBv2, ACM, WAFv2, CloudFront
create_service     = false # ECS, Application Auto Scaling
create_database    = false # RDS, RDS Proxy
create_registry    = false # ECR
create_backup_plan = false # AWS Backup
create_cache       = false # ElastiCache
create_github_oidc = false # nothing to deploy without the service
create_autoscaling = false
create_waf         = false
create_cloudfront  = false
