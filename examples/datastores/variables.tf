################################################################################
# General
################################################################################

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "shop"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; each subnet takes a /24 of it."
  type        = string
  default     = "10.42.0.0/16"
}

################################################################################
# Services
################################################################################

variable "image" {
  description = "Container image of both services (they run app/web.py and app/worker.py)."
  type        = string
  default     = "public.ecr.aws/docker/library/python:3.12-slim"
}

variable "container_port" {
  description = "Port the web container listens on (it reads PORT)."
  type        = number
  default     = 8000
}

################################################################################
# Datastores
################################################################################

variable "database_admits_web" {
  description = "Let the web service's security group reach the database. false reproduces a database that refuses the service (its health check then fails)."
  type        = bool
  default     = true
}

variable "redis_auth_token" {
  description = "AUTH token of the Redis replication group (16-128 printable characters; pass your own)."
  type        = string
  sensitive   = true
  default     = "example-redis-auth-token-0001"
}
