terraform {
  backend "s3" {
    bucket  = "acme-terraform-state"
    key     = "static-site/terraform.tfstate"
    region  = "us-east-1"
    encrypt = true
  }
}
