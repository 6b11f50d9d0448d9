terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100"
      # CloudFront only accepts ACM certificates issued in us-east-1, whatever
      # region the rest of the stack lives in.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
