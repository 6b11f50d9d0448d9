################################################################################
# Security group
################################################################################

output "security_group_id" {
  description = "Security group of the ALB."
  value       = try(aws_security_group.alb[0].id, null)
}

################################################################################
# Certificate
################################################################################

output "certificate_arn" {
  description = "ARN of the API certificate the HTTPS listener uses (validated here, or certificate_arn)."
  value       = var.create ? local.listener_certificate_arn : null
}

output "validation_records" {
  description = "DNS records proving domain ownership to ACM; add them to the DNS provider when route53_zone_id is null."
  value = [for dvo in try(aws_acm_certificate.this[0].domain_validation_options, []) : {
    name  = dvo.resource_record_name
    type  = dvo.resource_record_type
    value = dvo.resource_record_value
  }]
}

################################################################################
# Load balancer
################################################################################

output "alb_arn" {
  description = "ARN of the ALB."
  value       = try(aws_lb.this[0].arn, null)
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (CloudWatch LoadBalancer dimension)."
  value       = try(aws_lb.this[0].arn_suffix, null)
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = try(aws_lb.this[0].dns_name, null)
}

output "alb_zone_id" {
  description = "Route53 zone ID of the ALB (for alias records)."
  value       = try(aws_lb.this[0].zone_id, null)
}

# Both only once the HTTPS listener forwards to the target group: an ECS service registered in a target
# group no listener uses is refused by AWS ("The target group ... does not have an associated load
# balancer"), and so is request-count scaling on it. Whatever consumes these outputs waits for the listener.
output "target_group_arn" {
  description = "ARN of the API target group, available once a listener forwards to it."
  value       = try(aws_lb_target_group.api[0].arn, null)

  depends_on = [aws_lb_listener.https]
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the API target group (CloudWatch TargetGroup dimension), available once a listener forwards to it."
  value       = try(aws_lb_target_group.api[0].arn_suffix, null)

  depends_on = [aws_lb_listener.https]
}

output "idle_timeout" {
  description = "Idle timeout of the ALB (seconds): the application's keep-alive must be longer."
  value       = var.create ? var.idle_timeout : null
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener."
  value       = try(aws_lb_listener.https[0].arn, null)
}

################################################################################
# WAF
################################################################################

output "web_acl_arn" {
  description = "ARN of the WAF web ACL."
  value       = try(aws_wafv2_web_acl.this[0].arn, null)
}

################################################################################
# CloudFront
################################################################################

output "cloudfront_distribution_arn" {
  description = "ARN of the assets distribution."
  value       = try(aws_cloudfront_distribution.assets[0].arn, null)
}

output "cloudfront_distribution_id" {
  description = "ID of the assets distribution (for cache invalidations after an asset sync)."
  value       = try(aws_cloudfront_distribution.assets[0].id, null)
}

output "cloudfront_domain_name" {
  description = "Domain name of the assets distribution."
  value       = try(aws_cloudfront_distribution.assets[0].domain_name, null)
}
