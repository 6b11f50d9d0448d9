variable "env" {
  description = "Environment name, used as a prefix"
  type        = string
  default     = "dev"
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "artifact_buckets" {
  type    = list(string)
  default = ["renders", "originals"]
}

variable "workers" {
  type = map(object({
    image       = string
    cpu         = number
    memory      = number
    dead_letter = bool
  }))
  default = {
    thumbnails = {
      image       = "ghcr.io/acme-media/thumbnailer:latest"
      cpu         = 512
      memory      = 1024
      dead_letter = true
    }
    mailer = {
      image       = "acmemedia/mailer:latest"
      cpu         = 256
      memory      = 512
      dead_letter = false
    }
  }
}
