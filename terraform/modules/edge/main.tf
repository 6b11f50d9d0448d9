################################################################################
# General
################################################################################

locals {
  create_dns        = var.create && var.route53_zone_id != null
  create_waf        = var.create && var.create_waf
  create_cloudfront = var.create && var.create_cloudfront

  # A certificate the stack requests is validated through records it creates in route53_zone_id; a
  # certificate issued elsewhere (certificate_arn) needs neither. See the precondition below.
  create_certificate        = var.create && var.certificate_arn == null
  create_assets_certificate = local.create_cloudfront && var.assets_certificate_arn == null

  # ALB names are limited to 32 characters, target groups too.
  lb_name = substr(var.name, 0, 32)
  tg_name = "${substr(var.name, 0, 28)}-api"
}

################################################################################
# Security group
################################################################################

resource "aws_security_group" "alb" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-alb-"
  description = "ALB: HTTP/HTTPS from the internet, only to the service on the container port"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_ipv4" {
  for_each = var.create ? toset(["80", "443"]) : toset([])

  #checkov:skip=CKV_AWS_260:Port 80 is open on purpose: the listener only answers with a 301 redirect to HTTPS.
  security_group_id = aws_security_group.alb[0].id
  description       = each.value == "80" ? "HTTP (redirected to HTTPS)" : "HTTPS"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "alb_ipv6" {
  for_each = var.create && var.allow_ipv6_ingress ? toset(["80", "443"]) : toset([])

  #checkov:skip=CKV_AWS_260:Port 80 is open on purpose: the listener only answers with a 301 redirect to HTTPS.
  security_group_id = aws_security_group.alb[0].id
  description       = each.value == "80" ? "HTTP over IPv6 (redirected to HTTPS)" : "HTTPS over IPv6"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv6         = "::/0"
}

# The only egress: to the tasks on the container port (health checks use the
# same port because the target group checks on "traffic-port").
resource "aws_vpc_security_group_egress_rule" "alb_to_targets" {
  for_each = var.create ? var.target_security_group_ids : {}

  security_group_id            = aws_security_group.alb[0].id
  description                  = "To ${each.key} on the container port"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = each.value
}

################################################################################
# Certificate
################################################################################

resource "aws_acm_certificate" "this" {
  count = local.create_certificate ? 1 : 0

  domain_name               = var.domain_name
  subject_alternative_names = var.subject_alternative_names
  validation_method         = "DNS"

  tags = merge(var.tags, { Name = var.domain_name })

  # A listener always references a certificate; replacing it in place would
  # detach it first and fail.
  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.domain_name != null
      error_message = "domain_name is required when the edge is created (the HTTPS listener needs a certificate)."
    }
    # Without a zone to publish the validation records in, aws_acm_certificate_validation waits (75
    # minutes by default) for records nobody creates, and the listener and the service behind it wait
    # with it: the first apply hangs until someone adds DNS records by hand.
    precondition {
      condition     = var.route53_zone_id != null
      error_message = "The API certificate has no validation path: set route53_zone_id (the stack publishes the DNS validation records there), or certificate_arn (a certificate already issued, e.g. validated at an external DNS provider)."
    }
  }
}

locals {
  # Keyed by names from configuration (known at plan time); a wildcard and
  # its apex share one validation record, hence allow_overwrite below.
  certificate_domains = local.create_certificate ? toset(concat([var.domain_name], var.subject_alternative_names)) : toset([])
  certificate_dvos    = local.create_certificate ? { for dvo in aws_acm_certificate.this[0].domain_validation_options : dvo.domain_name => dvo } : {}
}

resource "aws_route53_record" "validation" {
  for_each = local.create_dns && local.create_certificate ? local.certificate_domains : toset([])

  zone_id         = var.route53_zone_id
  name            = local.certificate_dvos[each.value].resource_record_name
  type            = local.certificate_dvos[each.value].resource_record_type
  records         = [local.certificate_dvos[each.value].resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

# Blocks until ACM reports ISSUED, which the records above make happen within minutes.
resource "aws_acm_certificate_validation" "this" {
  count = local.create_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

locals {
  listener_certificate_arn = local.create_certificate ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn
}

################################################################################
# Load balancer
################################################################################

resource "aws_lb" "this" {
  count = var.create ? 1 : 0

  name               = local.lb_name
  load_balancer_type = "application"
  internal           = false
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.alb[0].id]

  # Requests with malformed headers are dropped instead of forwarded, closing
  # HTTP request-smuggling vectors against the application server.
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "strictest"
  enable_deletion_protection = var.deletion_protection
  enable_http2               = true
  # Long polling on /job/{id}/results keeps connections idle for a while; the
  # app server keep-alive must be LONGER than this or the ALB returns 502s on
  # connections the app already closed.
  idle_timeout = var.idle_timeout

  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = var.access_logs_prefix
    enabled = true
  }

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = var.access_logs_bucket != null && length(var.public_subnet_ids) >= 2
      error_message = "access_logs_bucket and at least two public_subnet_ids are required."
    }
  }
}

resource "aws_lb_target_group" "api" {
  count = var.create ? 1 : 0

  name        = local.tg_name
  vpc_id      = var.vpc_id
  port        = var.container_port
  protocol    = "HTTP"
  target_type = "ip" # Fargate awsvpc tasks register by ENI IP

  # Inference latency varies a lot per request; least outstanding requests
  # avoids piling new requests onto a task busy with a slow prediction.
  load_balancing_algorithm_type = "least_outstanding_requests"

  # Long enough for the longest request (gunicorn kills a worker after 30 s) to finish on a draining
  # task; idle keep-alive connections are closed by the ALB, not drained.
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    path                = "/health"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = var.health_check_interval
    timeout             = var.health_check_timeout
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { Name = local.tg_name })

  lifecycle {
    precondition {
      condition     = var.health_check_timeout < var.health_check_interval
      error_message = "health_check_timeout must be shorter than health_check_interval."
    }
  }
}

resource "aws_lb_listener" "https" {
  count = var.create ? 1 : 0

  load_balancer_arn = aws_lb.this[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = local.listener_certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api[0].arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  count = var.create ? 1 : 0

  load_balancer_arn = aws_lb.this[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

resource "aws_route53_record" "alb" {
  for_each = local.create_dns ? toset(var.allow_ipv6_ingress ? ["A", "AAAA"] : ["A"]) : toset([])

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = each.value

  alias {
    name                   = aws_lb.this[0].dns_name
    zone_id                = aws_lb.this[0].zone_id
    evaluate_target_health = true
  }
}

################################################################################
# WAF
################################################################################

# The rate limit's exemptions: a load test's generators (waf_rate_limit_exempt_cidrs). Always created, empty
# unless a copy of the stack is under load test, so the rule has one shape everywhere.
resource "aws_wafv2_ip_set" "rate_limit_exempt" {
  count = local.create_waf ? 1 : 0

  name               = "${var.name}-rate-limit-exempt"
  description        = "Not counted by the per-IP rate limit of ${var.name} (load-test generators)"
  scope              = "REGIONAL"
  ip_address_version = "IPV4"
  addresses          = var.waf_rate_limit_exempt_cidrs

  tags = var.tags
}

resource "aws_wafv2_web_acl" "this" {
  count = local.create_waf ? 1 : 0

  name        = var.name
  description = "Managed rule sets and per-IP rate limiting for ${var.name}"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "aws-common"
    priority = 10

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"

        # The common rule set blocks request bodies over 8 KB, which would
        # reject legitimate POST /predict payloads; count them instead.
        rule_action_override {
          name = "SizeRestrictions_BODY"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 20

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-anonymous-ip"
    priority = 25

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAnonymousIpList"

        # Blocks Tor exits and anonymising VPNs, but only counts cloud hosting
        # ranges: server-to-server API clients legitimately run there.
        rule_action_override {
          name = "HostingProviderIPList"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 30

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"

        # Everything but the exempt addresses is counted.
        scope_down_statement {
          not_statement {
            statement {
              ip_set_reference_statement {
                arn = aws_wafv2_ip_set.rate_limit_exempt[0].arn
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = local.create_waf ? 1 : 0

  resource_arn = aws_lb.this[0].arn
  web_acl_arn  = aws_wafv2_web_acl.this[0].arn
}

# WAF only delivers to log groups whose name starts with "aws-waf-logs-". Only the requests WAF
# blocked or counted are kept (see the logging filter): allowed traffic is already in the ALB access
# logs, and logging every request at 2,500 req/s would ingest ~10 GB a day.
resource "aws_cloudwatch_log_group" "waf" {
  count = local.create_waf ? 1 : 0

  #checkov:skip=CKV_AWS_338:Only blocked and counted requests are kept, for investigating attacks of the last quarter (90 days, waf_log_retention_in_days); a year at match-day volumes is a cost trap (docs/ARCHITECTURE.md).

  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.waf_log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  count = local.create_waf ? 1 : 0

  resource_arn            = aws_wafv2_web_acl.this[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]

  # Never log credentials that clients may send.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  logging_filter {
    default_behavior = "DROP"

    filter {
      behavior    = "KEEP"
      requirement = "MEETS_ANY"

      condition {
        action_condition {
          action = "BLOCK"
        }
      }

      condition {
        action_condition {
          action = "COUNT"
        }
      }
    }
  }
}

################################################################################
# CloudFront
################################################################################

resource "aws_acm_certificate" "assets" {
  count    = local.create_assets_certificate ? 1 : 0
  provider = aws.us_east_1

  domain_name       = var.assets_domain_name
  validation_method = "DNS"

  tags = merge(var.tags, { Name = var.assets_domain_name })

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.assets_domain_name != null && var.assets_bucket_regional_domain_name != null
      error_message = "assets_domain_name and assets_bucket_regional_domain_name are required when create_cloudfront is true."
    }
    precondition {
      condition     = var.route53_zone_id != null
      error_message = "The assets certificate has no validation path: set route53_zone_id, or assets_certificate_arn (an issued certificate in us-east-1)."
    }
  }
}

locals {
  assets_dvos = local.create_assets_certificate ? { for dvo in aws_acm_certificate.assets[0].domain_validation_options : dvo.domain_name => dvo } : {}
}

resource "aws_route53_record" "assets_validation" {
  count = local.create_assets_certificate && local.create_dns ? 1 : 0

  zone_id         = var.route53_zone_id
  name            = local.assets_dvos[var.assets_domain_name].resource_record_name
  type            = local.assets_dvos[var.assets_domain_name].resource_record_type
  records         = [local.assets_dvos[var.assets_domain_name].resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "assets" {
  count    = local.create_assets_certificate ? 1 : 0
  provider = aws.us_east_1

  certificate_arn         = aws_acm_certificate.assets[0].arn
  validation_record_fqdns = aws_route53_record.assets_validation[*].fqdn
}

locals {
  assets_certificate_arn = local.create_assets_certificate ? aws_acm_certificate_validation.assets[0].certificate_arn : var.assets_certificate_arn
}

resource "aws_cloudfront_origin_access_control" "assets" {
  count = local.create_cloudfront ? 1 : 0

  name                              = "${var.name}-assets"
  description                       = "Signed S3 requests for the ${var.name} assets bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "assets" {
  count = local.create_cloudfront ? 1 : 0

  #checkov:skip=CKV_AWS_68:Static, public, read-only assets; a CLOUDFRONT-scope WAF (us-east-1) adds cost without protecting anything writable. The API is protected by the regional WAF on the ALB.
  #checkov:skip=CKV2_AWS_47:Same as CKV_AWS_68: no WAF on the static-assets distribution, nothing reaches an application server.
  #checkov:skip=CKV_AWS_86:CloudFront standard logging needs an ACL-enabled bucket, which conflicts with BucketOwnerEnforced on the logs bucket; CloudFront metrics are used instead.
  #checkov:skip=CKV_AWS_310:Single S3 origin; S3 regional durability makes an origin group unnecessary for static assets.
  #checkov:skip=CKV_AWS_374:The audience is global; no geo restriction is wanted.
  #checkov:skip=CKV2_AWS_32:The AWS managed SecurityHeadersPolicy is attached by ID (response_headers_policy_id); checkov only recognises a policy resource or data source.
  enabled             = true
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  comment             = "${var.name} static assets"
  aliases             = [var.assets_domain_name]
  default_root_object = "index.html"
  price_class         = var.cloudfront_price_class

  origin {
    origin_id                = "assets"
    domain_name              = var.assets_bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.assets[0].id
  }

  default_cache_behavior {
    target_origin_id       = "assets"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    # Managed policies: CachingOptimized and SecurityHeadersPolicy.
    cache_policy_id            = "658327ea-f89d-4fab-a63d-7e88639e58f6"
    response_headers_policy_id = "67f7725c-6f97-4210-82d7-5512b31e9d03"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = local.assets_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  tags = var.tags
}

resource "aws_route53_record" "assets" {
  for_each = local.create_cloudfront && local.create_dns ? toset(["A", "AAAA"]) : toset([])

  zone_id = var.route53_zone_id
  name    = var.assets_domain_name
  type    = each.value

  alias {
    name                   = aws_cloudfront_distribution.assets[0].domain_name
    zone_id                = aws_cloudfront_distribution.assets[0].hosted_zone_id
    evaluate_target_health = false
  }
}
