variable "region" {
  type    = string
  default = "us-east-1"
}

variable "name" {
  type    = string
  default = "sports-commentary"
}

variable "image" {
  type    = string
  default = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sports-commentary:0.9.1"
}
