terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

# Primary region
provider "aws" {
  region     = var.region
  access_key = var.aws_access_key
  secret_key = var.aws_secret_key
}

# Disaster-recovery copy of the site
provider "aws" {
  alias      = "dr"
  region     = var.dr_region
  access_key = var.aws_access_key
  secret_key = var.aws_secret_key
}
