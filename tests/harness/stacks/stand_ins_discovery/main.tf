# Discovery cases (tests/harness/test_stack_ins.py): every way a configuration names what it does not create.
# Planned never: only read.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "certificate_arn" {
  description = "Given by env/test.tfvars."
  type        = string
}

variable "zone_id" {
  type    = string
  default = "Z0DEFAULTZONE"
}

variable "secret_arn" {
  type    = string
  default = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf"
}

locals {
  lab_role = "LabRole"
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
  port              = 443
  protocol          = "HTTPS"
  certificate_arn   = "arn:aws:acm:eu-west-1:111122223333:certificate/11111111-2222-3333-4444-555555555555"

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      status_code  = "200"
    }
  }
}

resource "aws_lb_listener_certificate" "extra" {
  listener_arn    = aws_lb_listener.https.arn
  certificate_arn = var.certificate_arn
}

data "aws_iam_role" "lab" {
  name = local.lab_role
}

resource "aws_launch_configuration" "legacy" {
  image_id      = "ami-1a2b3c4d"
  instance_type = "t2.micro"
}

data "aws_vpc" "main" {
  tags = {
    Name = "main"
  }
}

data "aws_subnets" "private" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.main.id]
  }
  tags = {
    Tier = "private"
  }
}

# The stack creates this role itself: no stand-in.
data "aws_iam_role" "app" {
  name = "app"
}

resource "aws_iam_role" "app" {
  name               = "app"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [] })
}

resource "aws_ecs_task_definition" "app" {
  family        = "app"
  task_role_arn = data.aws_iam_role.lab.arn
  container_definitions = jsonencode([{
    name    = "app"
    image   = "app:1"
    secrets = [{ name = "DB", valueFrom = var.secret_arn }]
  }])
}

# Follows the provider's region; resolved through the module's variable.
module "dns" {
  source  = "./modules/dns"
  zone_id = var.zone_id
}
