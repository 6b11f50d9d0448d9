# A live session's stack for the harness's own tests: two resources that create at once, and one
# variable whose change touches exactly one of them (an incremental apply must touch only that one).
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

variable "owner" {
  type        = string
  description = "Tag on the bucket only; changing it is the edit the incremental-apply test makes."
  default     = "platform"
}

resource "aws_s3_bucket" "data" {
  bucket = "live-session-data"
  tags   = { Owner = var.owner }
}

resource "aws_iam_role" "reader" {
  name = "live-session-reader"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }]
  })
}
