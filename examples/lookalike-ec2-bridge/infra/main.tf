terraform {
  required_version = ">= 0.12"

  backend "s3" {
    bucket         = "acme-terraform-state"
    key            = "orders-api/production/terraform.tfstate"
    region         = "us-east-1"
    dynamodb_table = "terraform-locks"
    encrypt        = true
  }
}

provider "aws" {
  version = "~> 3.0"
  region  = var.aws_region
}

data "aws_availability_zones" "available" {
  state = "available"
}
