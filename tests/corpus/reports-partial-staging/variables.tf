variable "env" {
  type    = string
  default = "staging"
}

variable "worker_count" {
  description = "How many report workers run"
  type        = number
  default     = 2
}
