# What the service stack expects to exist already: a VPC someone else owns.
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

resource "aws_vpc" "shared" {
  cidr_block = "10.40.0.0/16"
  tags       = { Name = "shared" }
}

output "vpc_id" {
  description = "The shared VPC, for stacks that are given it."
  value       = aws_vpc.shared.id
}
