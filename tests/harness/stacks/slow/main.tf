# Slow on purpose: the provider waits about 25 s for an SQS queue's attributes to settle, which leaves
# time to interrupt an apply (Ctrl-C, SIGTERM) or to stop the emulator in the middle of it.
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

resource "aws_s3_bucket" "first" {
  bucket = "slow-first-bucket"
}

resource "aws_sqs_queue" "slow" {
  name       = "slow-queue"
  depends_on = [aws_s3_bucket.first]
}
