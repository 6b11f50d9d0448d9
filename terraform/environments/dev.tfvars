# Development: one NAT gateway, two AZs, small single-AZ database, no WAF.
# Usage: terraform plan -var-file=environments/dev.tfvars -var image_tag=<git sha>

environment = "dev"
owner       = "platform-team"
cost_center = "ml-platform-dev"
image_tag   = "0.1.0"

github_repository = "example-org/stackprobe"
# terraform/bootstrap created the account's GitHub OIDC provider with the CI plan and apply roles.
create_github_oidc_provider = false
# ...and the permissions boundary every role of the stack carries (bootstrap's resource_prefix "stackprobe-").
iam_permissions_boundary_name = "stackprobe-workload-boundary"

# Network: a single NAT gateway saves ~2 x 32 USD/month plus data processing;
# an AZ outage cutting dev egress is acceptable.
az_count           = 2
single_nat_gateway = true
# Interface endpoints cost ~7.3 USD per endpoint and AZ a month (4 x 2 = ~58 USD); dev pulls images
# and ships logs through its NAT gateway instead.
create_interface_endpoints = false

log_retention_in_days = 30

domain_name = "api.dev.stackprobe.example.com"
# The public hosted zone of the domain: the stack publishes the certificate's DNS validation records
# and the alias there, so the first apply completes unattended. (On the emulator, stackprobe creates the
# zone first: --prerequisites terraform/prerequisites/public-zone passes its id as route53_zone_id.)
route53_zone_id = "Z0EXAMPLEPUBLICZONE"

uploads_cors_allowed_origins = ["https://app.dev.stackprobe.example.com"]

create_waf = false

# Database: db.t4g.small (2 GiB) -> max_connections = 2 GiB / 9531392 B = 225.
# RDS Proxy may use 90% -> budget 202.
# Demand = 2 (rolling deploy) x (api max 2 + worker max 2) x pool 10 = 80 <= 202.
db_instance_class          = "db.t4g.small"
db_multi_az                = false
db_backup_retention_period = 7
db_allocated_storage       = 20
db_max_allocated_storage   = 50
db_pool_size_per_task      = 10

api_cpu       = 256
api_memory    = 512
worker_cpu    = 256
worker_memory = 512

api_scaling    = { min = 1, max = 2, desired = 1 }
worker_scaling = { min = 1, max = 2, desired = 1 }

backup_retention_days = 7
