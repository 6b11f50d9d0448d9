terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }
}

provider "aws" {
  region = "eu-west-1"

  default_tags {
    tags = local.tags
  }
}

locals {
  name = "ingest"
  tags = {
    Environment = "prod"
    Service     = "ingest"
    Team        = "data-platform"
  }
}
