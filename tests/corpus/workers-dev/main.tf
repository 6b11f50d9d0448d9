terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
  }
}

provider "aws" {
  region = var.region
}

locals {
  prefix = "media-${var.env}"
}

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
}

# ---------------------------------------------------------------- queues

resource "aws_sqs_queue" "dlq" {
  for_each = { for name, worker in var.workers : name => worker if worker.dead_letter }

  name = "${local.prefix}-${each.key}-dlq"
}

resource "aws_sqs_queue" "jobs" {
  for_each = var.workers

  name                       = "${local.prefix}-${each.key}"
  visibility_timeout_seconds = 120

  redrive_policy = each.value.dead_letter ? jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = 5
  }) : null
}

# ---------------------------------------------------------------- buckets

resource "aws_s3_bucket" "artifacts" {
  count = length(var.artifact_buckets)

  bucket        = "${local.prefix}-${var.artifact_buckets[count.index]}"
  force_destroy = true
}

# ---------------------------------------------------------------- workers

resource "aws_ecs_cluster" "workers" {
  name = "${local.prefix}-workers"
}

resource "aws_security_group" "workers" {
  name   = "${local.prefix}-workers"
  vpc_id = data.aws_vpc.default.id

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_ecs_task_definition" "worker" {
  for_each = var.workers

  family                   = "${local.prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory

  container_definitions = jsonencode([{
    name      = each.key
    image     = each.value.image
    essential = true
    environment = [
      { name = "QUEUE_URL", value = aws_sqs_queue.jobs[each.key].url },
    ]
  }])
}

resource "aws_ecs_service" "worker" {
  for_each = var.workers

  name            = each.key
  cluster         = aws_ecs_cluster.workers.id
  task_definition = aws_ecs_task_definition.worker[each.key].arn
  desired_count   = 1
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = data.aws_subnets.default.ids
    security_groups  = [aws_security_group.workers.id]
    assign_public_ip = true
  }
}
