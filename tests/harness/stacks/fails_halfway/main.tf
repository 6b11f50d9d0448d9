# Applies two resources, then fails on a third: the ingress rule names a security group that does not
# exist, which the API rejects only at apply time. The harness must destroy what was created.
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

resource "aws_vpc" "this" {
  cidr_block = "10.50.0.0/16"
}

resource "aws_security_group" "app" {
  name   = "halfway-app"
  vpc_id = aws_vpc.this.id
}

resource "aws_s3_bucket" "data" {
  bucket = "halfway-data-bucket"
}

resource "aws_vpc_security_group_ingress_rule" "from_missing" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = "sg-0123456789abcdef0"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  depends_on                   = [aws_s3_bucket.data]
}
