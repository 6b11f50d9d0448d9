variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "image" {
  description = "API image, pushed by the ticketing pipeline"
  type        = string
  default     = "210987654321.dkr.ecr.eu-west-1.amazonaws.com/ticketing-api:2.3.1"
}

variable "alert_email" {
  description = "Who receives the alarms"
  type        = string
  default     = "oncall@ticketing.example.com"
}
