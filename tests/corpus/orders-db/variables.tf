variable "region" {
  type    = string
  default = "eu-west-2"
}

variable "db_username" {
  type    = string
  default = "orders"
}

variable "db_password" {
  type      = string
  sensitive = true
}
