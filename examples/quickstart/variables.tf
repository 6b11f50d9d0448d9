################################################################################
# General
################################################################################

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "quickstart"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; each public subnet takes a /24 of it."
  type        = string
  default     = "10.40.0.0/16"
}

################################################################################
# Service
################################################################################

variable "image" {
  description = "Container image of the web service (it runs app/web.py)."
  type        = string
  default     = "public.ecr.aws/docker/library/python:3.12-slim"
}

variable "container_port" {
  description = "Port the web container listens on (it reads PORT)."
  type        = number
  default     = 8000
}

variable "health_check_path" {
  description = "Path the load balancer's health check asks; app/web.py answers 200 on /healthz."
  type        = string
  default     = "/healthz"
}
