# A stack with one required variable (no default) and prerequisites that do not give it: the run must stop
# before applying anything, naming the variable and where it is declared.
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

variable "bucket_name" {
  type        = string
  description = "Name of the data bucket; no default, so every run must give it."
}

resource "aws_s3_bucket" "data" {
  bucket = var.bucket_name
}
