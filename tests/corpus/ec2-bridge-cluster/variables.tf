variable "ami_id" {
  description = "ECS-optimized Amazon Linux 2 AMI"
  type        = string
  default     = "ami-785db401"
}

variable "admin_cidr" {
  description = "Office IP for SSH"
  type        = string
  default     = "203.0.113.10/32"
}
