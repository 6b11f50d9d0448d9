variable "name" {
  type = string
}

variable "cidr_block" {
  type = string
}
