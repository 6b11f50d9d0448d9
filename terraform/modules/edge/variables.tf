################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the edge (ALB, certificate, listeners and optional WAF/CloudFront)."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix for edge resources (ALB name is truncated to 32 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 lowercase alphanumeric characters or hyphens, not starting or ending with a hyphen (ALB naming rules)."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "ARN of the KMS key encrypting the WAF log group."
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "Retention of WAF logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts."
  }
}

################################################################################
# Security group
################################################################################

variable "vpc_id" {
  description = "ID of the VPC."
  type        = string
  default     = null
}

variable "allow_ipv6_ingress" {
  description = "Also accept HTTP/HTTPS from ::/0 and publish an AAAA alias (needs a dual-stack VPC)."
  type        = bool
  default     = false
}

variable "target_security_group_ids" {
  description = "Security groups of the targets the ALB may reach on container_port, keyed by a static label."
  type        = map(string)
  default     = {}
}

variable "container_port" {
  description = "Port the application container listens on."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535
    error_message = "container_port must be an unprivileged port (1024-65535): the container runs as a non-root user."
  }
}

################################################################################
# Certificate
################################################################################

variable "domain_name" {
  description = "Public DNS name of the API (certificate subject and Route53 alias)."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lowercase fully qualified domain name."
  }
}

variable "subject_alternative_names" {
  description = "Additional names on the API certificate."
  type        = list(string)
  default     = []
}

variable "route53_zone_id" {
  description = "Public Route53 zone hosting domain_name (and assets_domain_name): the stack publishes the certificates' DNS validation records and the alias records there. Required unless certificate_arn (and assets_certificate_arn) name issued certificates."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "An issued ACM certificate for domain_name (e.g. validated at an external DNS provider), used instead of requesting one."
  type        = string
  default     = null
}

################################################################################
# Load balancer
################################################################################

variable "public_subnet_ids" {
  description = "Public subnet IDs (at least two AZs)."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
  default     = true
}

variable "idle_timeout" {
  description = "ALB idle timeout in seconds. Long-poll requests must finish (or send data) within it."
  type        = number
  default     = 65

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "idle_timeout must be between 1 and 4000 seconds."
  }
}

variable "deregistration_delay" {
  description = "Seconds a draining target keeps serving in-flight requests: at least the longest request the app serves (gunicorn's timeout, 30 s in app/modelserve/gunicorn_conf.py), plus a margin. The API has no long-lived requests (no long polling, no streaming)."
  type        = number
  default     = 35

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "deregistration_delay must be between 0 and 3600."
  }
}

variable "health_check_interval" {
  description = "Seconds between target health checks."
  type        = number
  default     = 15

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "health_check_interval must be between 5 and 300."
  }
}

variable "health_check_timeout" {
  description = "Seconds before a health check counts as failed. Must be shorter than the interval."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_timeout >= 2 && var.health_check_timeout <= 120
    error_message = "health_check_timeout must be between 2 and 120."
  }
}

variable "access_logs_bucket" {
  description = "Bucket receiving ALB access logs (must use SSE-S3 and allow ELB log delivery)."
  type        = string
  default     = null
}

variable "access_logs_prefix" {
  description = "Prefix of ALB access logs in the bucket."
  type        = string
  default     = "alb"
}

################################################################################
# WAF
################################################################################

variable "create_waf" {
  description = "Whether to attach a WAFv2 web ACL (managed rules + rate limit) to the ALB."
  type        = bool
  default     = true
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes allowed from one IP before WAF blocks it."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 10 && var.waf_rate_limit <= 2000000000
    error_message = "waf_rate_limit must be between 10 and 2,000,000,000 (WAF limits)."
  }
}

variable "waf_rate_limit_exempt_cidrs" {
  description = "IPv4 CIDRs the per-IP rate limit does not count (the managed rules still apply): a load test's generators, which send a crowd's requests from a few addresses. Empty in production; a staging copy under load test lists its generators (loadtest/README.md)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.waf_rate_limit_exempt_cidrs : can(cidrhost(cidr, 0)) && !startswith(cidr, "0.0.0.0/")])
    error_message = "waf_rate_limit_exempt_cidrs must be IPv4 CIDRs narrower than 0.0.0.0/0."
  }
}

variable "waf_log_retention_in_days" {
  description = "Retention of the WAF log group, which keeps only blocked and counted requests."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.waf_log_retention_in_days)
    error_message = "waf_log_retention_in_days must be a value CloudWatch Logs accepts."
  }
}

################################################################################
# CloudFront
################################################################################

variable "create_cloudfront" {
  description = "Whether to serve static assets from S3 through CloudFront with origin access control."
  type        = bool
  default     = false
}

variable "assets_certificate_arn" {
  description = "An issued ACM certificate in us-east-1 for assets_domain_name, used instead of requesting one."
  type        = string
  default     = null
}

variable "assets_domain_name" {
  description = "DNS name of the assets distribution (certificate issued in us-east-1)."
  type        = string
  default     = null

  validation {
    condition     = var.assets_domain_name == null || can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.assets_domain_name))
    error_message = "assets_domain_name must be a lowercase fully qualified domain name."
  }
}

variable "assets_bucket_regional_domain_name" {
  description = "Regional domain name of the assets bucket (origin)."
  type        = string
  default     = null
}

variable "cloudfront_price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}
