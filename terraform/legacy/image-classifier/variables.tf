variable "region" {
  type    = string
  default = "us-east-1"
}

variable "name" {
  type    = string
  default = "image-classifier"
}

variable "worker_image_tag" {
  description = "Worker image tag, bumped by CI on every release."
  type        = string
  default     = "1.8.3"
}

variable "worker_count" {
  description = "Number of classifier workers. Raised from 4 to 20 to clear the Q3 backlog."
  type        = number
  default     = 20
}

variable "db_pool_size" {
  description = "SQLAlchemy pool size per worker task."
  type        = number
  default     = 50
}

variable "training_ami_id" {
  description = "Deep Learning AMI (Ubuntu, CUDA) for the training box."
  type        = string
  default     = "ami-9b32e8e2"
}

variable "training_instance_type" {
  type    = string
  default = "g4dn.12xlarge"
}

variable "alarm_email" {
  type    = string
  default = "ml-oncall@example.com"
}
