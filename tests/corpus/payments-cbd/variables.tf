variable "vpc_id" {
  description = "The shared VPC (from the network repository)"
  type        = string
}

variable "subnet_ids" {
  description = "Private data subnets of the shared VPC"
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "Security group of the shared load balancer"
  type        = string
}

variable "db_instance_class" {
  description = "Instance class of the payments database (db.r6g.large in production)"
  type        = string
  default     = "db.r6g.large"
}
