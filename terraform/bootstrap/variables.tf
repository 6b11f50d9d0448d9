variable "aws_region" {
  description = "Region of the state bucket."
  type        = string
  default     = "eu-west-1"
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows plan and apply the stack."
  type        = string
  default     = "example-org/stackprobe"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "apply_environment" {
  description = "GitHub environment whose jobs may apply (deploy.yml's deploy job runs in it)."
  type        = string
  default     = "prod"
}

variable "state_key_prefix" {
  description = "Prefix of the state objects the CI roles may read and lock (one key per environment below it)."
  type        = string
  default     = "stackprobe/"
}

variable "resource_prefix" {
  description = "Name prefix of the stack's resources: the apply role may manage IAM roles and policies only under it (the stack's project name)."
  type        = string
  default     = "stackprobe-"
}
