# An internet-facing ALB whose HTTP listener applies and whose HTTPS listener fails: it forwards to a target
# group that does not exist (an ARN derived from the load balancer's, so nothing can stand it in), which the
# API rejects only at apply time. A partial audit must report what depends on that listener as "not checked",
# naming it, and count its port 443 as intended on the load balancer's security group.
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

variable "environment" {
  type    = string
  default = "challenge"
}

resource "aws_vpc" "this" {
  cidr_block = "10.60.0.0/16"
}

resource "aws_subnet" "public" {
  for_each          = { a = "10.60.1.0/24", b = "10.60.2.0/24" }
  vpc_id            = aws_vpc.this.id
  cidr_block        = each.value
  availability_zone = "eu-west-1${each.key}"
  tags              = { Tier = "public" }
}

resource "aws_security_group" "alb" {
  name   = "halfway-alb"
  vpc_id = aws_vpc.this.id
  tags   = { Tier = "public" }

  ingress {
    protocol    = "tcp"
    from_port   = 80
    to_port     = 80
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    protocol    = "tcp"
    from_port   = 443
    to_port     = 443
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_lb" "main" {
  name               = "halfway"
  load_balancer_type = "application"
  subnets            = [for subnet in aws_subnet.public : subnet.id]
  security_groups    = [aws_security_group.alb.id]
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_acm_certificate" "site" {
  domain_name       = "halfway.example.com"
  validation_method = "DNS"
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate.site.arn

  default_action {
    type             = "forward"
    target_group_arn = replace(aws_lb.main.arn, ":loadbalancer/app/", ":targetgroup/")
  }
}
