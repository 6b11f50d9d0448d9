# A service that is given an existing VPC (brief 001's shape): it creates only what is its own.
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

variable "vpc_id" {
  type        = string
  description = "The existing VPC the service runs in."
}

data "aws_vpc" "given" {
  id = var.vpc_id
}

resource "aws_security_group" "service" {
  name   = "service"
  vpc_id = data.aws_vpc.given.id
}
