# A deliberately small third-party-style configuration for the harness's own tests: the provider
# takes its region and profile from variables, as many inherited configurations do.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
  backend "s3" {}
}

provider "aws" {
  region  = var.region
  profile = var.aws_profile
}

provider "aws" {
  alias   = "replica"
  region  = "us-east-1"
  profile = var.aws_profile
}

variable "region" {
  type        = string
  description = "Region to deploy into."
  default     = "eu-west-1"
}

variable "aws_profile" {
  type        = string
  description = "Named profile from ~/.aws/config (the harness must neutralise it)."
  default     = "production-admin"
}

variable "name" {
  type        = string
  description = "Name prefix."
  default     = "tiny"
}

data "aws_caller_identity" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "this" {
  cidr_block = "10.42.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_security_group" "web" {
  name        = "${var.name}-web"
  description = "Web tier"
  vpc_id      = aws_vpc.this.id
}

resource "aws_s3_bucket" "primary" {
  bucket = "${var.name}-primary-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket" "replica" {
  provider = aws.replica
  bucket   = "${var.name}-replica-${data.aws_caller_identity.current.account_id}"
}

output "bucket" {
  description = "Primary bucket name."
  value       = aws_s3_bucket.primary.bucket
}

output "azs" {
  description = "Availability zones seen."
  value       = data.aws_availability_zones.available.names
}
