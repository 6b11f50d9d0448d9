# Scenario: a document-processing API: internet-facing ALB, autoscaling on
# CPU/memory/requests, and the security controls (WAF, TLS 1.3 policy, header
# validation, private tasks, least-privilege roles).

project     = "document-api"
environment = "prod"
owner       = "documents-team"
cost_center = "document-api"
image_tag   = "2.3.1"

github_repository = "example-org/document-api"
# terraform/bootstrap created the account's GitHub OIDC provider with the CI plan and apply roles.
create_github_oidc_provider = false
# ...and the permissions boundary every role of the stack carries (bootstrap's resource_prefix "document-api-").
iam_permissions_boundary_name = "document-api-workload-boundary"

az_count           = 3
single_nat_gateway = false

domain_name = "docs-api.example.com"
# The public hosted zone of the domain: the stack publishes the certificate's DNS validation records
# and the alias there, so the first apply completes unattended. (On the emulator, stackprobe creates the
# zone first: --prerequisites terraform/prerequisites/public-zone passes its id as route53_zone_id.)
route53_zone_id              = "Z0EXAMPLEPUBLICZONE"
uploads_cors_allowed_origins = ["https://docs.example.com"]

# Documents are uploaded straight to S3 with pre-signed URLs, so API requests
# stay small; 1000 requests / 5 min per IP is far above a real client.
create_waf     = true
waf_rate_limit = 1000

api_cpu    = 1024
api_memory = 2048

# 150 requests/s peak at ~25 req/s per task (PDF parsing, 70% CPU target)
#   -> 6 tasks at peak; min 3 (one per AZ), max 10 (peak + AZ-loss headroom).
# requests_per_target is per minute: 25 req/s x 60 = 1500.
api_scaling         = { min = 3, max = 10, desired = 3 }
worker_scaling      = { min = 2, max = 6, desired = 2 }
requests_per_target = 1500

# db.m7g.large: max_connections 901, proxy 90% -> budget 810.
# Demand = 2 x (10 + 6) x 10 = 320 <= 810.
db_instance_class     = "db.m7g.large"
db_pool_size_per_task = 10

alarm_email_addresses = ["documents-oncall@example.com"]

backup_copy_region = "eu-central-1"
