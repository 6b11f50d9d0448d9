# Scenario: live sports commentary. 5,000 concurrent users poll for updates
# every 2-3 s; polls are answered from Redis (finished results, app/modelserve/cache.py), else S3,
# where the ingest workers write them (they hold no database connections); the API records each
# submission in MySQL and reads the history from its replicas; static assets come from CloudFront.

project     = "sports-commentary"
environment = "prod"
# Brief 004: us-east-1, next to the CloudFront certificate's region and the audience.
aws_region  = "us-east-1"
owner       = "live-sports-team"
cost_center = "sports-commentary"
image_tag   = "3.0.2"

# Who the alarms page: a production alarm that notifies nobody is not an alarm (alarms.topic-subscribed).
alarm_email_addresses = ["live-sports-oncall@example.com"]

github_repository = "example-org/sports-commentary"
# terraform/bootstrap created the account's GitHub OIDC provider with the CI plan and apply roles.
create_github_oidc_provider = false
# ...and the permissions boundary every role of the stack carries (bootstrap's resource_prefix "sports-commentary-").
iam_permissions_boundary_name = "sports-commentary-workload-boundary"

az_count           = 3
single_nat_gateway = false

domain_name        = "live.sports.example.com"
create_cloudfront  = true
assets_domain_name = "static.sports.example.com"
# The zone of sports.example.com: both certificates (the API's, and the assets' in us-east-1) are
# validated through records the stack publishes there. (On the emulator, stackprobe creates the zone
# first: --prerequisites terraform/prerequisites/public-zone.)
route53_zone_id = "Z0EXAMPLEPUBLICZONE"

# Request rate:
#   5,000 users / 2.5 s average poll interval = 2,000 req/s
#   5,000 users / 2 s (fastest interval)      = 2,500 req/s peak
# Per task (1 vCPU: gunicorn 2 workers x 4 threads, reads of a few ms) ~250 req/s
# at the 60% CPU target of the API's target tracking (cpu_target_percent; confirm with
# the load test, loadtest/).
#   peak tasks = 2,500 / 250 = 10
#   min = 6: 2 per AZ; carries 1,500 req/s (quiet periods) and survives an AZ
#             loss with 4 tasks while scaling out
#   max = 16: 10 at peak x 1.5 headroom for goal spikes, rounded up
# ALBRequestCountPerTarget is per minute: 250 req/s x 60 s x 0.7 headroom = 10,500.
api_cpu             = 1024
api_memory          = 2048
api_scaling         = { min = 6, max = 16, desired = 6 }
requests_per_target = 10500

# Ingest workers: one per live match feed, up to 6 concurrent matches.
worker_scaling = { min = 2, max = 6, desired = 2 }

# Matches start at known times: pre-scale before kick-off, since target
# tracking needs minutes to react to the step change.
scheduled_scaling = [
  { name = "matchday-prescale", service = "api", schedule = "cron(30 17 ? * SAT *)", timezone = "Europe/London", min = 10, max = 16 },
  { name = "matchday-release", service = "api", schedule = "cron(0 23 ? * SAT *)", timezone = "Europe/London", min = 6, max = 16 },
]

# WAF: one user polling every 2 s = 150 requests / 5 min; venue Wi-Fi puts
# many users behind one IP, so allow ~65 users per IP: 150 x 65 ~= 10,000.
# The load test (loadtest/) sends 5,000 users' polls from one generator: up to 2,500 req/s, 750,000 per
# 5 minutes from one address. Its staging copy lists the generator in waf_rate_limit_exempt_cidrs, or
# the test would measure WAF's 403s (stackprobe's edge.waf-load-test compares the two).
create_waf     = true
waf_rate_limit = 10000

# Database: MySQL with two read replicas for history/statistics queries; the API gets their
# addresses as DB_READ_HOSTS. RDS cannot manage the master password of a primary with replicas, so
# the stack generates it (write-only: never in state) and keeps it in its own secret. On a live
# database that switch is applied first, the replicas in a later apply (docs/RUNBOOK.md).
# MySQL 8.4, the LTS release: 8.0's standard support ends in July 2026, and Extended Support is billed.
# Per-task pool 4: most requests are Redis hits; 4 connections cover the
# share of requests that miss the cache (gunicorn has 8 threads per task).
# db.r6g.large (16 GiB): max_connections = 16 GiB / 12582880 B = 1365;
# RDS Proxy 90% -> budget 1228.
# Demand = 2 (rolling deploy) x api 16 x pool 4 = 128 <= 1228 (the ingest workers
# write commentary to S3 for the API to serve, and hold no database connections).
db_engine                        = "mysql"
db_engine_version                = "8.4"
db_instance_class                = "db.r6g.large"
db_stack_managed_master_password = true
db_replica_count                 = 2
db_pool_size_per_task            = 4

# Redis: 5,000 users x 1 read per 2 s = 2,500 GET/s, trivial for one node;
# 3 nodes (primary + 2 replicas, one per AZ) for availability and read spread.
create_cache             = true
cache_node_type          = "cache.r7g.large"
cache_num_cache_clusters = 3

backup_copy_region = "us-west-2"
