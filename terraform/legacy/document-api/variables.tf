variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "aws_profile" {
  description = "Profile in ~/.aws/credentials with deploy rights on the docs account."
  type        = string
  default     = "docs-prod"
}

variable "name" {
  type    = string
  default = "document-api"
}

variable "image" {
  description = "Container image for the API."
  type        = string
  default     = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/document-api:2.3.0"
}

variable "db_username" {
  type    = string
  default = "docs"
}

variable "db_password" {
  type      = string
  sensitive = true
  default   = "D0cs-Api-2021!"
}
