# Scenario: the reference ML model-serving API (issue 3) in production shape.
# GET /health, POST /predict, GET /upload-url, POST /start-job, GET /job/{id}/results.

project     = "ml-serving"
environment = "prod"
owner       = "ml-platform-team"
cost_center = "ml-serving"
image_tag   = "1.0.0"

github_repository = "example-org/ml-serving"
# terraform/bootstrap created the account's GitHub OIDC provider with the CI plan and apply roles.
create_github_oidc_provider = false

# Brief 001: the VPC already exists (the ML platform's shared network, run by the network team with
# its own NAT gateways, endpoints and flow logs). The stack places its tiers in these subnets and
# creates no network of its own; the plan reads each subnet and refuses one outside the VPC or a tier
# in fewer than two AZs. (On the emulator, --prerequisites terraform/prerequisites/existing-network
# creates such a VPC first and passes its ids as existing_network and route53_zone_id.)
existing_network = {
  vpc_id                  = "vpc-0a1b2c3d4e5f60718"
  public_subnet_ids       = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"]
  private_app_subnet_ids  = ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012", "subnet-0a1b2c3d4e5f60013"]
  private_data_subnet_ids = ["subnet-0a1b2c3d4e5f60021", "subnet-0a1b2c3d4e5f60022", "subnet-0a1b2c3d4e5f60023"]
}

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

api_scaling    = { min = 3, max = 12, desired = 3 }
worker_scaling = { min = 2, max = 8, desired = 2 }

# db.m7g.large (8 GiB): max_connections = 8 GiB / 9531392 B = 901; proxy 90% -> budget 810.
# Demand = 2 (rolling deploy) x (api 12 + worker 8) x pool 10 = 400 <= 810.
db_instance_class     = "db.m7g.large"
db_pool_size_per_task = 10
