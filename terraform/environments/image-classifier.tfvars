# Scenario: asynchronous image classification (POST /start-job -> SQS -> worker
# -> results), rebuilt after the connection-pool exhaustion incident.
#
# The incident (terraform/legacy/image-classifier): worker_count was raised
# from 4 to 20 to clear a backlog, each task kept a SQLAlchemy pool of 50:
#   20 tasks x 50 connections = 1000 connections
# against a db.t3.micro whose max_connections = 1 GiB / 9531392 B = 112.
# New tasks could not connect, failed, were replaced and retried: the backlog
# grew instead of shrinking.
#
# The fix:
# - the workers hold no database connections at all: job state lives in S3 (results/<job>.json), so
#   worker_database_access stays false and scaling the workers to clear a backlog costs the database
#   nothing;
# - the API's pools are budgeted by a precondition in modules/database:
#     demand = 2 (rolling deploy, maximum_percent 200) x api max x pool = 2 x 4 x 5 = 40 connections
#     budget = db.m7g.large (8 GiB) max_connections 8 GiB / 9531392 B = 901,
#              x 90% (RDS Proxy max_connections_percent)      = 810
#   40 <= 810: even the incident's 20 workers with a pool of 5 each (2 x 24 x 5 = 240) would fit.
# Not a db.t* class: a burstable instance runs out of CPU credits under exactly
# the sustained backlog load this stack exists to absorb (stackprobe's
# capacity.burstable-database-prod check flags it in production).
# RDS Proxy additionally multiplexes idle client connections, and the worker
# scales on backlog per task instead of a hand-edited count.

project     = "image-classifier"
environment = "prod"
owner       = "vision-team"
cost_center = "image-classifier"
image_tag   = "1.9.0"

# Who the alarms page: a production alarm that notifies nobody is not an alarm (alarms.topic-subscribed).
alarm_email_addresses = ["vision-oncall@example.com"]

github_repository = "example-org/image-classifier"
# terraform/bootstrap created the account's GitHub OIDC provider with the CI plan and apply roles.
create_github_oidc_provider = false
# ...and the permissions boundary every role of the stack carries (bootstrap's resource_prefix "image-classifier-").
iam_permissions_boundary_name = "image-classifier-workload-boundary"

# Brief 001: the VPC already exists (the vision platform's shared network, run by the network team with
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

domain_name = "api.image-classifier.example.com"
# The public hosted zone of the domain: the stack publishes the certificate's DNS validation records
# and the alias there, so the first apply completes unattended.
route53_zone_id = "Z0EXAMPLEPUBLICZONE"

create_waf = true

# Classification of one image takes ~20 s on 2 vCPU; allow up to 2 minutes.
worker_cpu                       = 2048
worker_memory                    = 4096
max_job_duration_seconds         = 120
queue_visibility_timeout_seconds = 180 # > 120 s job time, else a second worker picks up a running job
queue_max_receive_count          = 3

api_scaling    = { min = 2, max = 4, desired = 2 }
worker_scaling = { min = 2, max = 20, desired = 2 }

# Backlog per task target: accept 5 minutes of queueing at 20 s per job
#   300 s / 20 s = 15 jobs per worker.
worker_backlog_per_task = 15

db_instance_class     = "db.m7g.large"
db_pool_size_per_task = 5

backup_copy_region = "eu-central-1"
