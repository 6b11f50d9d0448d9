# Scenario: the reference ML model-serving API (issue 3) in production shape.
# GET /health, POST /predict, GET /upload-url, POST /start-job, GET /job/{id}/results.

project     = "ml-serving"
environment = "prod"
owner       = "ml-platform-team"
cost_center = "ml-serving"
image_tag   = "1.0.0"

# Who the alarms page: a production alarm that notifies nobody is not an alarm (alarms.topic-subscribed).
alarm_email_addresses = ["ml-platform-oncall@example.com"]

github_repository = "example-org/ml-serving"
# terraform/bootstrap created the account's GitHub OIDC provider with the CI plan and apply roles.
create_github_oidc_provider = false
# ...and the permissions boundary every role of the stack carries (bootstrap's resource_prefix "ml-serving-").
iam_permissions_boundary_name = "ml-serving-workload-boundary"

# A network of its own: three AZs, a NAT gateway per AZ, interface endpoints and flow logs.
az_count           = 3
single_nat_gateway = false

domain_name                  = "api.ml-serving.example.com"
route53_zone_id              = "Z0EXAMPLEPUBLICZONE"
uploads_cors_allowed_origins = ["https://app.ml-serving.example.com"]

create_waf = true

# Inference is CPU-bound: 1 vCPU / 2 GiB per API task; jobs run up to 5 min.
api_cpu       = 1024
api_memory    = 2048
worker_cpu    = 2048
worker_memory = 4096

max_job_duration_seconds         = 300
queue_visibility_timeout_seconds = 360 # job time + 60 s margin
# Jobs outlast the 120 s ECS allows a stopping Fargate task: the worker protects its task from scale-in
# while it holds a job (ecs:UpdateTaskProtection, terraform/modules/iam).

api_scaling    = { min = 3, max = 12, desired = 3 }
worker_scaling = { min = 2, max = 8, desired = 2 }

# db.m7g.large (8 GiB): max_connections = 8 GiB / 9531392 B = 901; proxy 90% -> budget 810.
# Demand = 2 (rolling deploy) x api 12 x pool 10 = 240 <= 810 (the workers hold no connections).
db_instance_class     = "db.m7g.large"
db_pool_size_per_task = 10

backup_copy_region = "eu-central-1"
