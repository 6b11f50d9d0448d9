locals {
  default_tags = {
    Project     = var.project
    Environment = var.environment
    Owner       = var.owner
    CostCenter  = var.cost_center
    ManagedBy   = "terraform"
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.default_tags
  }
}

# CloudFront only accepts ACM certificates from us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.default_tags
  }
}

# Where AWS Backup copies every recovery point (backup_copy_region); the stack's own region when there is
# no copy, so that the alias always exists for the backup module.
provider "aws" {
  alias  = "backup_copy"
  region = coalesce(var.backup_copy_region, var.aws_region)

  default_tags {
    tags = local.default_tags
  }
}
