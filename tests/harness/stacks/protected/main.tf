# Protected as a production stack would be, and written with no switch to lift any of it: a bucket holding an
# object without force_destroy, a table with deletion protection, a log group destroy must not delete. The
# teardown must still leave the emulator empty, lifting each protection itself (stackprobe.lifecycle.protections).
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

resource "aws_s3_bucket" "records" {
  bucket = "protected-records"
}

resource "aws_s3_object" "ledger" {
  bucket  = aws_s3_bucket.records.id
  key     = "ledger.csv"
  content = "id,amount\n"
}

resource "aws_dynamodb_table" "orders" {
  name                        = "protected-orders"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = true

  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_cloudwatch_log_group" "audit" {
  name         = "/protected/audit"
  skip_destroy = true
}
