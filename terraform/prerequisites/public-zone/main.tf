# The public hosted zone every scenario's domain lives in (api.stackprobe.example.com,
# live.sports.example.com, ...). Applied first by `stackprobe verify --prerequisites`: its
# route53_zone_id output becomes the stack's variable of the same name.

terraform {
  required_version = ">= 1.11"

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

resource "aws_route53_zone" "this" {
  #checkov:skip=CKV2_AWS_38:A test fixture for the emulator: DNSSEC signing belongs to the real zone's owner.
  #checkov:skip=CKV2_AWS_39:A test fixture for the emulator: query logging belongs to the real zone's owner.
  name          = "example.com"
  comment       = "stackprobe prerequisite: the zone the stack's certificates are validated in"
  force_destroy = true
}

output "route53_zone_id" {
  description = "ID of the public hosted zone (the stack's route53_zone_id)."
  value       = aws_route53_zone.this.zone_id
}
