variable "name" {
  type = string
}

variable "cidr" {
  type = string
}

variable "public_subnets" {
  description = "Map of availability zone => CIDR block."
  type        = map(string)
}
