################################################################################
# General
################################################################################

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name
  image  = var.image_repository_url == null ? null : "${var.image_repository_url}:${var.image_tag}"

  # APP_PORT and HEALTH_PATH are what both the server and the container health
  # check (python -m modelserve.healthcheck) read, so they come from one place.
  # HTTP_KEEPALIVE_SECONDS: how long the server keeps an idle connection open. It must outlast the load
  # balancer's idle timeout, or the ALB reuses a connection the server has just closed and answers 502.
  api_environment = merge(var.api_environment, {
    APP_PORT               = tostring(var.container_port)
    HEALTH_PATH            = var.health_check_path
    AWS_REGION             = local.region
    HTTP_KEEPALIVE_SECONDS = var.keepalive_seconds == null ? null : tostring(var.keepalive_seconds)
  })
  worker_environment = merge(var.worker_environment, {
    AWS_REGION = local.region
  })

  # Unset (null) values are dropped rather than passed as empty strings.
  api_environment_list    = [for k in sort(keys(local.api_environment)) : { name = k, value = local.api_environment[k] } if local.api_environment[k] != null]
  worker_environment_list = [for k in sort(keys(local.worker_environment)) : { name = k, value = local.worker_environment[k] } if local.worker_environment[k] != null]
  api_secrets_list        = [for k in sort(keys(var.api_secrets)) : { name = k, valueFrom = var.api_secrets[k] }]
  worker_secrets_list     = [for k in sort(keys(var.worker_secrets)) : { name = k, valueFrom = var.worker_secrets[k] }]

  api_service_name    = "${var.name}-api"
  worker_service_name = "${var.name}-worker"
}

################################################################################
# Cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  count = var.create ? 1 : 0

  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  count = var.create ? 1 : 0

  cluster_name       = aws_ecs_cluster.this[0].name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

################################################################################
# Security group
################################################################################

# The API's tasks. The worker has a group of its own (below): it serves no port and needs no data
# store unless worker_egress_security_group_rules gives it one, so it gets neither the ALB's ingress nor
# the API's database and cache egress.
resource "aws_security_group" "this" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-svc-"
  description = "ECS tasks: container port from the ALB; HTTPS to AWS APIs; data stores"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-svc" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "from_alb" {
  for_each = var.create ? var.ingress_security_group_ids : {}

  security_group_id            = aws_security_group.this[0].id
  description                  = "Container port from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = each.value
}

# AWS APIs (S3, SQS, ECR, Logs, Secrets Manager) over the NAT gateway or the
# VPC endpoints; HTTPS only.
resource "aws_vpc_security_group_egress_rule" "https" {
  count = var.create ? 1 : 0

  security_group_id = aws_security_group.this[0].id
  description       = "HTTPS to AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "to_security_groups" {
  for_each = var.create ? var.egress_security_group_rules : {}

  security_group_id            = aws_security_group.this[0].id
  description                  = "To ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = each.value.security_group_id
}

resource "aws_security_group" "worker" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-worker-"
  description = "ECS worker tasks: no ingress; HTTPS to AWS APIs"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-worker" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "worker_https" {
  count = var.create ? 1 : 0

  security_group_id = aws_security_group.worker[0].id
  description       = "HTTPS to AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "worker_to_security_groups" {
  for_each = var.create ? var.worker_egress_security_group_rules : {}

  security_group_id            = aws_security_group.worker[0].id
  description                  = "To ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = each.value.security_group_id
}

################################################################################
# Logs
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  for_each = var.create ? toset(["api", "worker"]) : toset([])

  name              = "/ecs/${var.name}/${each.value}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

################################################################################
# Task definitions
################################################################################

resource "aws_ecs_task_definition" "api" {
  count = var.create ? 1 : 0

  family                   = local.api_service_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.api_cpu
  memory                   = var.api_memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.api_task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root filesystem is read-only; /tmp (gunicorn heartbeat files, temp
  # downloads) is a task-scoped volume on Fargate ephemeral storage.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = "api"
    image                  = local.image
    essential              = true
    user                   = "10001"
    readonlyRootFilesystem = true
    portMappings           = [{ name = "http", containerPort = var.container_port, protocol = "tcp" }]
    environment            = local.api_environment_list
    secrets                = local.api_secrets_list
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    healthCheck = {
      command     = ["CMD", "python", "-m", "modelserve.healthcheck"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this["api"].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "api"
        # Never block the app on a CloudWatch Logs hiccup; drop instead.
        mode            = "non-blocking"
        max-buffer-size = "25m"
      }
    }
  }])

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.image_repository_url != null && var.execution_role_arn != null
      error_message = "image_repository_url and execution_role_arn are required when the service is created."
    }
    precondition {
      condition     = var.api_memory >= 2 * var.api_cpu && var.api_memory <= 8 * var.api_cpu
      error_message = "api_memory must be between 2x and 8x api_cpu (Fargate CPU/memory combinations)."
    }
  }
}

resource "aws_ecs_task_definition" "worker" {
  count = var.create ? 1 : 0

  family                   = local.worker_service_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.worker_task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "tmp"
  }

  # No HTTP health check: the worker serves no port; a crashed worker exits
  # and ECS replaces it.
  container_definitions = jsonencode([{
    name                   = "worker"
    image                  = local.image
    essential              = true
    command                = ["python", "-m", "modelserve.worker"]
    user                   = "10001"
    readonlyRootFilesystem = true
    environment            = local.worker_environment_list
    secrets                = local.worker_secrets_list
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    # Fargate's maximum: gives a job in progress time to finish after SIGTERM
    # (Spot interruptions give two minutes as well). Unfinished jobs become
    # visible again on the queue after its visibility timeout.
    stopTimeout = 120
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this["worker"].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "worker"
        mode                  = "non-blocking"
        max-buffer-size       = "25m"
      }
    }
  }])

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.worker_memory >= 2 * var.worker_cpu && var.worker_memory <= 8 * var.worker_cpu
      error_message = "worker_memory must be between 2x and 8x worker_cpu (Fargate CPU/memory combinations)."
    }
  }
}

################################################################################
# Services
################################################################################

resource "aws_ecs_service" "api" {
  count = var.create ? 1 : 0

  name             = local.api_service_name
  cluster          = aws_ecs_cluster.this[0].arn
  task_definition  = aws_ecs_task_definition.api[0].arn
  desired_count    = var.api_scaling.desired
  launch_type      = "FARGATE" # on-demand only: the API must not lose tasks to Spot reclaims
  platform_version = "LATEST"

  deployment_controller {
    type = "ECS"
  }

  # Rolling deployment that never drops below the current capacity, and rolls
  # back automatically when new tasks keep failing health checks.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Model loading happens at start-up; ALB health checks must not kill tasks
  # before the container can answer /health.
  health_check_grace_period_seconds = var.health_check_grace_period_seconds

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.this[0].id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "api"
    container_port   = var.container_port
  }

  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true

  tags = var.tags

  depends_on = [aws_ecs_cluster_capacity_providers.this]

  lifecycle {
    # Application Auto Scaling owns the running count; without this every
    # apply would reset it to the initial desired count and undo scaling.
    ignore_changes = [desired_count]

    precondition {
      condition     = var.api_scaling.min <= var.api_scaling.desired && var.api_scaling.desired <= var.api_scaling.max
      error_message = "api_scaling.desired must be within [min, max]."
    }
    precondition {
      condition     = var.api_scaling.min >= var.minimum_api_tasks
      error_message = "api_scaling.min must be at least ${var.minimum_api_tasks} in this environment."
    }
    precondition {
      condition     = var.target_group_arn != null
      error_message = "target_group_arn is required: the API service is registered behind the ALB."
    }
  }
}

resource "aws_ecs_service" "worker" {
  count = var.create ? 1 : 0

  name             = local.worker_service_name
  cluster          = aws_ecs_cluster.this[0].arn
  task_definition  = aws_ecs_task_definition.worker[0].arn
  desired_count    = var.worker_scaling.desired
  platform_version = "LATEST"

  # Jobs are retried through the queue, so Spot interruptions only delay work:
  # keep a small on-demand base for progress, run the rest on Spot (~70% off).
  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = var.worker_on_demand_base
    weight            = 0
  }

  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 1
  }

  deployment_controller {
    type = "ECS"
  }

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.worker[0].id]
    assign_public_ip = false
  }

  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true

  tags = var.tags

  depends_on = [aws_ecs_cluster_capacity_providers.this]

  lifecycle {
    # Owned by Application Auto Scaling, see the API service.
    ignore_changes = [desired_count]

    precondition {
      condition     = var.worker_scaling.min <= var.worker_scaling.desired && var.worker_scaling.desired <= var.worker_scaling.max
      error_message = "worker_scaling.desired must be within [min, max]."
    }
  }
}

################################################################################
# Autoscaling
################################################################################

resource "aws_appautoscaling_target" "api" {
  count = var.create && var.create_autoscaling ? 1 : 0

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this[0].name}/${aws_ecs_service.api[0].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.api_scaling.min
  max_capacity       = var.api_scaling.max

  tags = var.tags
}

resource "aws_appautoscaling_policy" "api_cpu" {
  count = var.create && var.create_autoscaling ? 1 : 0

  name               = "${local.api_service_name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api[0].service_namespace
  resource_id        = aws_appautoscaling_target.api[0].resource_id
  scalable_dimension = aws_appautoscaling_target.api[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_out_cooldown = var.scale_out_cooldown
    scale_in_cooldown  = var.scale_in_cooldown

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# No memory target tracking for the API: a task's memory is mostly the model it loaded, which more
# tasks do not reduce, so a memory target above that baseline would scale the service out to its
# maximum and hold it there. Memory is watched by an alarm (modules/observability) instead.

resource "aws_appautoscaling_policy" "api_requests" {
  count = var.create && var.create_autoscaling ? 1 : 0

  name               = "${local.api_service_name}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api[0].service_namespace
  resource_id        = aws_appautoscaling_target.api[0].resource_id
  scalable_dimension = aws_appautoscaling_target.api[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_out_cooldown = var.scale_out_cooldown
    scale_in_cooldown  = var.scale_in_cooldown

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = var.alb_request_count_resource_label
    }
  }

  lifecycle {
    precondition {
      condition     = var.alb_request_count_resource_label != null
      error_message = "alb_request_count_resource_label (app/<alb>/<id>/targetgroup/<tg>/<id>) is required for request-based scaling."
    }
  }
}

resource "aws_appautoscaling_target" "worker" {
  count = var.create && var.create_autoscaling ? 1 : 0

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this[0].name}/${aws_ecs_service.worker[0].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.worker_scaling.min
  max_capacity       = var.worker_scaling.max

  tags = var.tags
}

# Backlog per task = visible messages / running tasks (AWS's recommended SQS
# scaling metric): queue depth alone does not say whether there are enough
# workers. Target = acceptable latency / average job duration.
resource "aws_appautoscaling_policy" "worker_backlog" {
  count = var.create && var.create_autoscaling ? 1 : 0

  name               = "${local.worker_service_name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker[0].service_namespace
  resource_id        = aws_appautoscaling_target.worker[0].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker_backlog_per_task
    scale_out_cooldown = var.scale_out_cooldown
    scale_in_cooldown  = var.scale_in_cooldown

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "Jobs waiting"
        return_data = false

        metric_stat {
          stat = "Sum"

          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"

            dimensions {
              name  = "QueueName"
              value = var.jobs_queue_name
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "Running workers"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this[0].name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker[0].name
            }
          }
        }
      }

      metrics {
        id          = "backlog"
        label       = "Jobs per worker"
        expression  = "visible / tasks"
        return_data = true
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.jobs_queue_name != null
      error_message = "jobs_queue_name is required for backlog-based worker scaling."
    }
  }
}

# Known peaks (e.g. match days) pre-scale ahead of demand; target tracking
# reacts within minutes, which is too slow for a step change in traffic.
resource "aws_appautoscaling_scheduled_action" "this" {
  for_each = var.create && var.create_autoscaling ? { for a in var.scheduled_scaling : a.name => a } : {}

  name               = "${var.name}-${each.key}"
  service_namespace  = "ecs"
  resource_id        = each.value.service == "api" ? aws_appautoscaling_target.api[0].resource_id : aws_appautoscaling_target.worker[0].resource_id
  scalable_dimension = "ecs:service:DesiredCount"
  schedule           = each.value.schedule
  timezone           = each.value.timezone

  scalable_target_action {
    min_capacity = each.value.min
    max_capacity = each.value.max
  }
}
