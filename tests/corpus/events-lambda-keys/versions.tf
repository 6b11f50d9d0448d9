terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.50"
    }
  }
}

provider "aws" {
  region = "eu-west-1"

  default_tags {
    tags = { Environment = "production", Service = "events" }
  }
}
