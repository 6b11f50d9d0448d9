# ECS on EC2 capacity without awsvpc: a bridge-mode service placed by the EC2 launch type, and a host-mode
# daemon. AWS answers DescribeServices for these without a networkConfiguration (only awsvpc tasks have
# one); an emulator that answers an empty one crashes the provider's read. No container instance or
# load balancer is needed: the emulator runs no task (docs/backends.md, ecs-tasks-never-run).
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_ecs_cluster" "this" {
  name = "bridge"
}

resource "aws_ecs_task_definition" "web" {
  family                   = "bridge-web"
  network_mode             = "bridge"
  requires_compatibilities = ["EC2"]
  container_definitions = jsonencode([{
    name         = "web"
    image        = "public.ecr.aws/nginx/nginx:1.27"
    essential    = true
    memory       = 128
    portMappings = [{ containerPort = 80, hostPort = 0, protocol = "tcp" }]
  }])
}

resource "aws_ecs_service" "web" {
  name            = "bridge-web"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.web.arn
  desired_count   = 2
  launch_type     = "EC2"
}

resource "aws_ecs_task_definition" "agent" {
  family                   = "bridge-agent"
  network_mode             = "host"
  requires_compatibilities = ["EC2"]
  container_definitions = jsonencode([{
    name      = "agent"
    image     = "public.ecr.aws/docker/library/busybox:1.36"
    essential = true
    memory    = 64
    command   = ["sleep", "infinity"]
  }])
}

resource "aws_ecs_service" "agent" {
  name                = "bridge-agent"
  cluster             = aws_ecs_cluster.this.id
  task_definition     = aws_ecs_task_definition.agent.arn
  launch_type         = "EC2"
  scheduling_strategy = "DAEMON"
}
