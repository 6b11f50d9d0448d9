variable "region" {
  description = "AWS region for the whole stack."
  type        = string
  default     = "eu-west-1"
}

variable "aws_profile" {
  description = "Named profile from ~/.aws/config used to deploy."
  type        = string
  default     = "ml-prod"
}

variable "name" {
  description = "Prefix for every resource name."
  type        = string
  default     = "ml-serving"
}

variable "ami_id" {
  description = "Ubuntu 16.04 image for the notebook box."
  type        = string
  default     = "ami-785db401"
}

variable "notebook_instance_type" {
  type    = string
  default = "t3.xlarge"
}

variable "inference_image_tag" {
  description = "Tag of the inference image pushed by `make push`."
  type        = string
  default     = "latest"
}

variable "inference_desired_count" {
  type    = number
  default = 2
}

variable "db_username" {
  type    = string
  default = "mlapp"
}
