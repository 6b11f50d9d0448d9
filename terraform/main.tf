################################################################################
# General
################################################################################

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name          = "${var.project}-${var.environment}"
  is_production = var.environment == "prod"

  # terraform/bootstrap's workload boundary: the CI apply role may create and change the stack's roles
  # only with it on them (see terraform/bootstrap/README.md).
  permissions_boundary_arn = var.iam_permissions_boundary_name == null ? null : "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/${var.iam_permissions_boundary_name}"

  # create_cloudfront/create_waf only make sense with the edge.
  create_cloudfront = var.create_edge && var.create_cloudfront
  create_waf        = var.create_edge && var.create_waf

  # Connection budget (enforced by a precondition in the database module):
  # every task that talks to the database holds one pool of
  # db_pool_size_per_task connections, and a rolling deployment
  # (deployment_maximum_percent = 200) can briefly run twice the tasks.
  #   demand = 2 x (api max + worker max) x pool size  <=  connection budget
  # A scheduled action may not raise a maximum above the service's (a validation of scheduled_scaling),
  # so these maxima bound every task count, match days included.
  db_client_max_tasks = 2 * (var.api_scaling.max + (var.worker_database_access ? var.worker_scaling.max : 0))

  # The application's HTTP keep-alive outlasts the ALB's idle timeout by this margin, so the ALB never
  # reuses a connection the server has just closed (that race is answered with a 502).
  http_keepalive_seconds = var.create_edge ? module.edge.idle_timeout + 10 : null

  image_repository_url = var.image_repository_url != null ? var.image_repository_url : module.registry.repository_url
}

################################################################################
# Encryption
################################################################################

module "kms" {
  source = "./modules/kms"

  name             = local.name
  description      = "${local.name}: logs, S3, SQS, SNS, RDS, ECR, Secrets Manager, Backup"
  allow_cloudfront = local.create_cloudfront
}

################################################################################
# Network
################################################################################

module "network" {
  source = "./modules/network"

  name                       = local.name
  existing_network           = var.existing_network
  vpc_cidr                   = var.vpc_cidr
  az_count                   = var.az_count
  single_nat_gateway         = var.single_nat_gateway
  create_interface_endpoints = var.create_interface_endpoints
  kms_key_arn                = module.kms.key_arn
  flow_log_retention_in_days = var.flow_log_retention_in_days
  permissions_boundary_arn   = local.permissions_boundary_arn
}

################################################################################
# Storage
################################################################################

module "storage" {
  source = "./modules/storage"

  name                               = local.name
  kms_key_arn                        = module.kms.key_arn
  force_destroy                      = var.allow_destroy_for_tests
  uploads_cors_allowed_origins       = var.uploads_cors_allowed_origins
  create_assets_bucket               = local.create_cloudfront
  assets_cloudfront_distribution_arn = module.edge.cloudfront_distribution_arn
}

################################################################################
# Registry
################################################################################

module "registry" {
  source = "./modules/registry"

  create       = var.create_registry
  name         = "${local.name}/modelserve"
  kms_key_arn  = module.kms.key_arn
  force_delete = var.allow_destroy_for_tests
}

################################################################################
# Queue
################################################################################

module "queue" {
  source = "./modules/queue"

  name                       = "${local.name}-jobs"
  kms_key_arn                = module.kms.key_arn
  max_job_duration_seconds   = var.max_job_duration_seconds
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  max_receive_count          = var.queue_max_receive_count
  alarm_actions              = [module.observability.alarm_topic_arn]
}

################################################################################
# Database
################################################################################

module "database" {
  source = "./modules/database"

  create        = var.create_database
  name          = local.name
  is_production = local.is_production
  kms_key_arn   = module.kms.key_arn

  vpc_id     = module.network.vpc_id
  subnet_ids = module.network.private_data_subnet_ids
  allowed_security_group_ids = var.create_service ? merge(
    { service = module.service.security_group_id },
    var.worker_database_access ? { worker = module.service.worker_security_group_id } : {},
  ) : {}

  engine                        = var.db_engine
  engine_version                = var.db_engine_version
  stack_managed_master_password = var.db_stack_managed_master_password
  master_password_version       = var.db_master_password_version
  instance_class                = var.db_instance_class
  allocated_storage             = var.db_allocated_storage
  max_allocated_storage         = var.db_max_allocated_storage
  multi_az                      = var.db_multi_az
  backup_retention_period       = var.db_backup_retention_period
  backup_window                 = var.db_backup_window
  maintenance_window            = var.db_maintenance_window
  replica_count                 = var.db_replica_count
  log_retention_in_days         = var.log_retention_in_days

  deletion_protection = !var.allow_destroy_for_tests
  skip_final_snapshot = var.allow_destroy_for_tests

  create_proxy              = var.create_db_proxy
  client_max_tasks          = local.db_client_max_tasks
  client_pool_size_per_task = var.db_pool_size_per_task

  alarm_actions            = [module.observability.alarm_topic_arn]
  permissions_boundary_arn = local.permissions_boundary_arn
}

################################################################################
# Cache
################################################################################

module "cache" {
  source = "./modules/cache"

  create      = var.create_cache
  name        = local.name
  kms_key_arn = module.kms.key_arn

  vpc_id     = module.network.vpc_id
  subnet_ids = module.network.private_data_subnet_ids
  allowed_security_group_ids = var.create_service ? {
    service = module.service.security_group_id
  } : {}

  node_type             = var.cache_node_type
  num_cache_clusters    = var.cache_num_cache_clusters
  log_retention_in_days = var.log_retention_in_days

  alarm_actions = [module.observability.alarm_topic_arn]
}

################################################################################
# Edge
################################################################################

module "edge" {
  source = "./modules/edge"

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  create      = var.create_edge
  name        = local.name
  kms_key_arn = module.kms.key_arn

  vpc_id            = module.network.vpc_id
  public_subnet_ids = module.network.public_subnet_ids
  target_security_group_ids = var.create_service ? {
    service = module.service.security_group_id
  } : {}
  allow_ipv6_ingress = var.allow_ipv6_ingress
  container_port     = var.container_port

  domain_name            = var.domain_name
  route53_zone_id        = var.route53_zone_id
  certificate_arn        = var.certificate_arn
  assets_certificate_arn = var.assets_certificate_arn

  deletion_protection   = !var.allow_destroy_for_tests
  access_logs_bucket    = module.storage.logs_bucket_id
  access_logs_prefix    = module.storage.alb_logs_prefix
  log_retention_in_days = var.log_retention_in_days

  create_waf                  = local.create_waf
  waf_rate_limit              = var.waf_rate_limit
  waf_rate_limit_exempt_cidrs = var.waf_rate_limit_exempt_cidrs

  create_cloudfront                  = local.create_cloudfront
  assets_domain_name                 = var.assets_domain_name
  assets_bucket_regional_domain_name = module.storage.assets_bucket_regional_domain_name
}

################################################################################
# Service
################################################################################

module "service" {
  source = "./modules/service"

  create      = var.create_service
  name        = local.name
  kms_key_arn = module.kms.key_arn

  image_repository_url = local.image_repository_url
  image_tag            = var.image_tag
  container_port       = var.container_port
  cpu_architecture     = var.cpu_architecture

  vpc_id     = module.network.vpc_id
  subnet_ids = module.network.private_app_subnet_ids
  ingress_security_group_ids = var.create_edge ? {
    alb = module.edge.security_group_id
  } : {}
  egress_security_group_rules = merge(
    local.database_egress_rules,
    var.create_cache ? {
      cache = { security_group_id = module.cache.security_group_id, port = module.cache.port }
    } : {},
  )
  # The worker reaches no data store unless it uses the database (worker_database_access).
  worker_egress_security_group_rules = var.worker_database_access ? local.database_egress_rules : {}

  execution_role_arn   = module.iam.execution_role_arn
  api_task_role_arn    = module.iam.api_task_role_arn
  worker_task_role_arn = module.iam.worker_task_role_arn

  api_cpu       = var.api_cpu
  api_memory    = var.api_memory
  worker_cpu    = var.worker_cpu
  worker_memory = var.worker_memory

  api_environment    = merge(local.app_environment, local.db_environment, local.cache_environment)
  worker_environment = merge(local.app_environment, var.worker_database_access ? local.db_environment : {})
  keepalive_seconds  = local.http_keepalive_seconds

  log_retention_in_days = var.log_retention_in_days

  target_group_arn = module.edge.target_group_arn

  create_autoscaling               = var.create_autoscaling
  api_scaling                      = var.api_scaling
  minimum_api_tasks                = local.is_production ? 2 : 1
  worker_scaling                   = var.worker_scaling
  requests_per_target              = var.requests_per_target
  alb_request_count_resource_label = var.create_edge ? "${module.edge.alb_arn_suffix}/${module.edge.target_group_arn_suffix}" : null
  jobs_queue_name                  = module.queue.queue_name
  worker_backlog_per_task          = var.worker_backlog_per_task
  scheduled_scaling                = var.scheduled_scaling
}

locals {
  database_egress_rules = merge(
    var.create_database ? {
      database = { security_group_id = module.database.security_group_id, port = module.database.port }
    } : {},
    var.create_database && var.create_db_proxy ? {
      database-proxy = { security_group_id = module.database.proxy_security_group_id, port = module.database.port }
    } : {},
  )

  # The environment contract of app/modelserve/config.py (app/stackprobe-contract.yaml lists what each
  # container reads; a test compares both with the code).
  app_environment = {
    MODELS_BUCKET  = module.storage.models_bucket_id
    UPLOADS_BUCKET = module.storage.uploads_bucket_id
    JOBS_QUEUE_URL = module.queue.queue_url
  }
  # The tasks connect as the application role with IAM tokens (rds-db:connect on the task role), so
  # no password is injected and a rotated secret locks no running task out. DB_POOL_SIZE is the number
  # the connection-budget precondition uses and the app sizes its pools from, so the two cannot drift
  # apart. DB_READ_HOSTS are the replicas, for reads that may lag the primary, read as DB_READ_USER.
  db_environment = var.create_database ? {
    DB_ENGINE     = var.db_engine
    DB_HOST       = module.database.client_host
    DB_PORT       = tostring(module.database.port)
    DB_NAME       = module.database.db_name
    DB_USER       = module.database.app_username
    DB_POOL_SIZE  = tostring(var.db_pool_size_per_task)
    DB_READ_HOSTS = var.db_replica_count > 0 ? join(",", module.database.replica_addresses) : null
    DB_READ_USER  = var.db_replica_count > 0 ? module.database.read_username : null
  } : {}
  # Only the API reads the cache (the worker never serves a poll).
  # The cache's user logs in with an IAM token (elasticache:Connect on the API's task role; RBAC).
  cache_environment = var.create_cache ? {
    CACHE_HOST = module.cache.primary_endpoint_address
    CACHE_PORT = tostring(module.cache.port)
    CACHE_USER = module.cache.app_user_id
    CACHE_NAME = module.cache.replication_group_id
  } : {}
}

################################################################################
# IAM
################################################################################

module "iam" {
  source = "./modules/iam"

  name                     = local.name
  kms_key_arn              = module.kms.key_arn
  permissions_boundary_arn = local.permissions_boundary_arn

  create_task_roles            = var.create_service
  worker_cluster_name          = var.create_service ? module.service.cluster_name : null
  ecr_repository_arns          = var.create_registry ? [module.registry.repository_arn] : []
  log_group_arns               = values(module.service.log_group_arns)
  api_database_connect_arns    = var.create_database ? module.database.app_connect_arns : []
  api_cache_connect_arns       = var.create_cache ? module.cache.connect_arns : []
  worker_database_connect_arns = var.create_database && var.worker_database_access ? module.database.app_connect_arns : []
  models_bucket_arn            = module.storage.models_bucket_arn
  uploads_bucket_arn           = module.storage.uploads_bucket_arn
  queue_arn                    = module.queue.queue_arn

  create_github_oidc          = var.create_github_oidc
  github_oidc_provider_arn    = var.github_oidc_provider_arn
  create_github_oidc_provider = var.create_github_oidc_provider
  github_repository           = var.github_repository
  github_environment          = var.environment
  ecs_service_arns            = var.create_service ? [module.service.api_service_arn, module.service.worker_service_arn] : []

  deploy_assets               = local.create_cloudfront
  assets_bucket_arn           = module.storage.assets_bucket_arn
  cloudfront_distribution_arn = module.edge.cloudfront_distribution_arn
}

################################################################################
# Observability
################################################################################

module "observability" {
  source = "./modules/observability"

  name                  = local.name
  kms_key_arn           = module.kms.key_arn
  alarm_email_addresses = var.alarm_email_addresses

  enable_alb_alarms       = var.create_edge
  alb_arn_suffix          = module.edge.alb_arn_suffix
  target_group_arn_suffix = module.edge.target_group_arn_suffix
  error_rate_slo_percent  = var.error_rate_slo_percent

  enable_ecs_alarms = var.create_service
  ecs_cluster_name  = module.service.cluster_name
  ecs_service_names = var.create_service ? {
    api    = module.service.api_service_name
    worker = module.service.worker_service_name
  } : {}

  enable_rds_alarms      = var.create_database
  db_instance_identifier = module.database.db_instance_identifier
  db_replica_identifiers = module.database.replica_identifiers

  queue_name = module.queue.queue_name
  dlq_name   = module.queue.dlq_name
}

################################################################################
# Backup
################################################################################

module "backup" {
  source = "./modules/backup"

  create      = var.create_backup_plan
  name        = local.name
  kms_key_arn = module.kms.key_arn

  providers = {
    aws      = aws
    aws.copy = aws.backup_copy
  }

  retention_days           = var.backup_retention_days
  lock_changeable_for_days = var.backup_vault_lock_changeable_for_days
  copy_region              = var.backup_copy_region
  permissions_boundary_arn = local.permissions_boundary_arn
  # The database and the models. Not uploads (transient job inputs and results that expire after
  # uploads_expiration_days anyway) nor assets (rebuilt from the repository by the deploy).
  resource_arns = concat(
    var.create_database ? [module.database.db_instance_arn] : [],
    compact([module.storage.models_bucket_arn]),
  )
}
