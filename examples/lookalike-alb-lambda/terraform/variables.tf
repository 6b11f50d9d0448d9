variable "region" {
  description = "Region of the lab account (Academy labs only allow us-east-1 and us-west-2)"
  type        = string
  default     = "us-east-1"
}

variable "student_id" {
  description = "Used in tags so the graders can find our resources"
  type        = string
  default     = "grp07"
}

variable "app_name" {
  type    = string
  default = "status-board"
}

variable "image_tag" {
  type    = string
  default = "latest"
}

variable "container_port" {
  type    = number
  default = 8080
}

variable "desired_count" {
  type    = number
  default = 1
}

# Issued by the course staff in the shared course account and shared with every group.
variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener"
  type        = string
  default     = "arn:aws:acm:us-east-1:210987654321:certificate/6f1c2d8e-4b7a-4f3e-9d21-5a8c0e7b9f42"
}

variable "healthcheck_schedule" {
  type    = string
  default = "rate(5 minutes)"
}
