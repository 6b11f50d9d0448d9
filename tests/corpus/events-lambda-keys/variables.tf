variable "admin_cidr" {
  description = "The ops VPN's egress address, the only source allowed to SSH to the bastion"
  type        = string
  default     = "198.51.100.7/32"
}

variable "bastion_ami" {
  type    = string
  default = "ami-785db401"
}
