variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "environment" {
  type    = string
  default = "production"
}

variable "image_tag" {
  description = "Tag of the API image in ECR"
  type        = string
  default     = "latest"
}

variable "alarm_topic_arn" {
  description = "SNS topic that pages the on-call engineer"
  type        = string
  default     = "arn:aws:sns:us-east-1:210987654321:ops-alerts"
}
