provider "aws" {
  region = var.region
}

module "uploads" {
  source = "./modules/bucket"

  name = "${var.prefix}-uploads"
}

module "exports" {
  source = "./modules/bucket"

  name = "${var.prefix}-exports"
}
