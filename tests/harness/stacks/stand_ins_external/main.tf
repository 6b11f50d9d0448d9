# A stack written for its author's AWS account (tests/harness/test_stand_ins.py): it names a certificate of
# that account, a role it expects to exist (the AWS Academy lab role) and an AMI id, and creates none of them.
# It applies on the emulator with no prerequisites written: stackprobe stands them in.
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

variable "certificate_arn" {
  description = "The HTTPS listener's certificate, issued in the author's account (env/author.tfvars)."
  type        = string
}

data "aws_iam_role" "lab" {
  name = "LabRole"
}

# A custom domain's certificate: what an HTTPS listener takes too, without the minute an application load
# balancer costs the provider to wait for (tests/harness/test_stand_ins.py proves a listener finds it as well).
resource "aws_api_gateway_domain_name" "api" {
  domain_name              = "api.example.com"
  regional_certificate_arn = var.certificate_arn

  endpoint_configuration {
    types = ["REGIONAL"]
  }
}

resource "aws_ecs_task_definition" "app" {
  family                   = "app"
  task_role_arn            = data.aws_iam_role.lab.arn
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = "256"
  memory                   = "512"
  container_definitions = jsonencode([{
    name      = "app"
    image     = "public.ecr.aws/docker/library/nginx:1.27"
    essential = true
  }])
}

resource "aws_launch_template" "web" {
  name          = "web"
  image_id      = "ami-1a2b3c4d"
  instance_type = "t3.micro"
}

# A service of the task definition, in the account's default network (which every account has: looked up,
# found, never stood in): the enforced least-privilege check then has a task role to act as.
data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
}

resource "aws_ecs_cluster" "app" {
  name = "app"
}

resource "aws_ecs_service" "app" {
  name            = "app"
  cluster         = aws_ecs_cluster.app.id
  task_definition = aws_ecs_task_definition.app.arn
  desired_count   = 1
  launch_type     = "FARGATE"

  network_configuration {
    subnets = data.aws_subnets.default.ids
  }
}
