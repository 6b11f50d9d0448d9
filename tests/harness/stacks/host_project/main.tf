# Someone else's stack in a region that is not stackprobe's default: the plugin's `aws` clients must
# follow it there without being told.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = "eu-central-1"
}

resource "aws_ecs_cluster" "orders" {
  name = "orders"
}
