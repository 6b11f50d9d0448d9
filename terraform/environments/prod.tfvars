# Production: three AZs, NAT gateway per AZ, Multi-AZ database, WAF.
# Usage: terraform plan -var-file=environments/prod.tfvars -var image_tag=<release tag>

environment = "prod"
owner       = "platform-team"
cost_center = "ml-platform"
image_tag   = "1.0.0"

github_repository = "example-org/stackprobe"
# terraform/bootstrap created the account's GitHub OIDC provider with the CI plan and apply roles.
create_github_oidc_provider = false
# ...and the permissions boundary every role of the stack carries (bootstrap's resource_prefix "stackprobe-").
iam_permissions_boundary_name = "stackprobe-workload-boundary"

az_count           = 3
single_nat_gateway = false

log_retention_in_days = 365

domain_name = "api.stackprobe.example.com"
# The public hosted zone of the domain: the stack publishes the certificate's DNS validation records
# and the alias there, so the first apply completes unattended. (On the emulator, stackprobe creates the
# zone first: --prerequisites terraform/prerequisites/public-zone passes its id as route53_zone_id.)
route53_zone_id = "Z0EXAMPLEPUBLICZONE"

uploads_cors_allowed_origins = ["https://app.stackprobe.example.com"]

create_waf     = true
waf_rate_limit = 2000 # per IP per 5 minutes, ~6.7 req/s sustained

# Database: db.m7g.large (8 GiB) -> max_connections = 8 GiB / 9531392 B = 901.
# RDS Proxy may use 90% -> budget 810.
# Demand = 2 (rolling deploy) x api max 12 x pool 10 = 240 <= 810 (the workers keep job state in S3
# and hold no database connections: worker_database_access = false).
db_instance_class          = "db.m7g.large"
db_multi_az                = true
db_backup_retention_period = 14
db_allocated_storage       = 100
db_max_allocated_storage   = 500
db_pool_size_per_task      = 10

api_cpu       = 1024
api_memory    = 2048
worker_cpu    = 1024
worker_memory = 4096

# min 3 = one task per AZ; max 12 at 1000 requests/task/minute = 12000 req/min.
api_scaling    = { min = 3, max = 12, desired = 3 }
worker_scaling = { min = 2, max = 10, desired = 2 }

alarm_email_addresses = ["oncall@stackprobe.example.com"]

backup_retention_days = 35
# A copy of every recovery point in a second region, in a vault and key of the stack there.
backup_copy_region = "eu-central-1"
