variable "aws_region" {
  default = "us-east-1"
}

variable "environment" {
  default = "production"
}

variable "app_name" {
  default = "orders-api"
}

variable "vpc_cidr" {
  default = "10.20.0.0/16"
}

variable "app_image" {
  default = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:latest"
}

variable "app_port" {
  default = 8000
}

variable "app_count" {
  default = 2
}

variable "instance_type" {
  default = "t3.small"
}

variable "asg_min" {
  default = 1
}

variable "asg_max" {
  default = 2
}

variable "asg_desired" {
  default = 1
}

variable "db_instance_class" {
  default = "db.t3.micro"
}

variable "db_username" {
  default = "orders"
}

variable "db_password" {
  description = "Set in terraform.tfvars (not the real one)"
}
