# Orders database. The orders service itself is deployed from the orders-service
# repository (its own pipeline); it attaches the "orders-app" security group
# created here, which is the only thing allowed to reach Postgres.

provider "aws" {
  region = var.region
}

module "network" {
  source = "./modules/network"

  name       = "orders"
  cidr_block = "10.30.0.0/16"
}

resource "aws_security_group" "app" {
  name        = "orders-app"
  description = "Orders service tasks (attached by the orders-service repo)"
  vpc_id      = module.network.vpc_id

  egress {
    description = "Postgres"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = [module.network.cidr_block]
  }
}

module "database" {
  source = "./modules/database"

  name                  = "orders"
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  app_security_group_id = aws_security_group.app.id
  username              = var.db_username
  password              = var.db_password
}
