# Terraform 1.11 or newer (brief 004 asks for 1.7+; the stack needs more): the S3 backend's native lock
# file (use_lockfile) arrived in 1.10 and is GA in 1.11, and the database module writes generated
# passwords through write-only arguments (password_wo, secret_string_wo), which need 1.11.
terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
