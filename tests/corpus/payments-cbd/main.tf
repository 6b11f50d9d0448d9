# Payments API: the target group and security groups it needs in the shared VPC, and its database.
# Every resource that may be replaced has create_before_destroy, "to avoid downtime".

resource "aws_security_group" "api" {
  name        = "payments-api"
  description = "Payments API tasks"
  vpc_id      = var.vpc_id

  ingress {
    from_port       = 8443
    to_port         = 8443
    protocol        = "tcp"
    security_groups = [var.alb_security_group_id]
  }

  egress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_target_group" "api" {
  name        = "payments-api"
  port        = 8443
  protocol    = "HTTPS"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path     = "/health"
    protocol = "HTTPS"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role" "api" {
  name = "payments-api"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  lifecycle {
    create_before_destroy = true
  }
}

module "db" {
  source = "./modules/db"

  name                  = "payments"
  vpc_id                = var.vpc_id
  subnet_ids            = var.subnet_ids
  app_security_group_id = aws_security_group.api.id
}
