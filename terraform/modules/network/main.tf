################################################################################
# General
################################################################################

data "aws_region" "current" {}

# Only "opt-in-not-required" zones: Local Zones and Wavelength Zones lack NAT
# gateways, interface endpoints and most instance types used here.
data "aws_availability_zones" "available" {
  count = local.create_vpc ? 1 : 0

  #checkov:skip=CKV_AWS_394:Only the first az_count names (sorted) are used; a newly added zone gets a later letter and cannot change the subnet layout unless az_count changes. Pinning names per region would make the module region-specific.
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  # An existing network (existing_network) is used as it is: the stack creates none of the resources
  # below in it (its owner runs its routes, NAT, endpoints and flow logs).
  create_vpc = var.create && var.existing_network == null

  azs      = local.create_vpc ? slice(data.aws_availability_zones.available[0].names, 0, var.az_count) : []
  az_count = length(local.azs)

  # /16 VPC: public /24s at 10.x.0-2.0, private-app /20s at 10.x.16-63.0 (room
  # for many Fargate ENIs, one per task), private-data /24s at 10.x.64-66.0.
  public_subnet_cidrs       = [for i in range(local.az_count) : cidrsubnet(var.vpc_cidr, 8, i)]
  private_app_subnet_cidrs  = [for i in range(local.az_count) : cidrsubnet(var.vpc_cidr, 4, i + 1)]
  private_data_subnet_cidrs = [for i in range(local.az_count) : cidrsubnet(var.vpc_cidr, 8, 64 + i)]

  nat_gateway_count = local.create_vpc ? (var.single_nat_gateway ? 1 : local.az_count) : 0
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  count = local.create_vpc ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # required for private DNS on interface endpoints

  tags = merge(var.tags, { Name = var.name })
}

# Adopting the default security group and declaring no rules removes AWS's
# default allow-all-within-group rules, so nothing can silently use it.
resource "aws_default_security_group" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_internet_gateway" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Subnets
################################################################################

resource "aws_subnet" "public" {
  count = local.az_count

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = local.public_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]

  # Only the ALB and NAT gateways live here and neither needs auto-assigned
  # public IPs (NAT uses an Elastic IP), so nothing launched here by mistake
  # becomes reachable from the internet.
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" })
}

resource "aws_subnet" "private_app" {
  count = local.az_count

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = local.private_app_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]

  tags = merge(var.tags, { Name = "${var.name}-private-app-${local.azs[count.index]}", Tier = "private-app" })
}

resource "aws_subnet" "private_data" {
  count = local.az_count

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = local.private_data_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]

  tags = merge(var.tags, { Name = "${var.name}-private-data-${local.azs[count.index]}", Tier = "private-data" })
}

################################################################################
# NAT gateways
################################################################################

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

################################################################################
# Route tables
################################################################################

resource "aws_route_table" "public" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count = local.create_vpc ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = local.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# One private-app route table per AZ even with a single NAT gateway, so moving
# from single_nat_gateway = true to false only changes routes, not associations.
resource "aws_route_table" "private_app" {
  count = local.az_count

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-private-app-${local.azs[count.index]}" })
}

resource "aws_route" "private_app_nat" {
  count = local.az_count

  route_table_id         = aws_route_table.private_app[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

resource "aws_route_table_association" "private_app" {
  count = local.az_count

  subnet_id      = aws_subnet.private_app[count.index].id
  route_table_id = aws_route_table.private_app[count.index].id
}

# The data tier has no route to the internet at all: databases and caches
# never initiate outbound connections.
resource "aws_route_table" "private_data" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-private-data" })
}

resource "aws_route_table_association" "private_data" {
  count = local.az_count

  subnet_id      = aws_subnet.private_data[count.index].id
  route_table_id = aws_route_table.private_data[0].id
}

################################################################################
# VPC endpoints
################################################################################

# Gateway endpoints are free and keep model downloads and uploads off the NAT
# gateway (NAT data processing is billed per GB).
resource "aws_vpc_endpoint" "s3" {
  count = local.create_vpc ? 1 : 0

  vpc_id            = aws_vpc.this[0].id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = concat(aws_route_table.private_app[*].id, aws_route_table.private_data[*].id)

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

resource "aws_security_group" "endpoints" {
  count = local.create_vpc && var.create_interface_endpoints ? 1 : 0

  name_prefix = "${var.name}-vpce-"
  description = "Interface VPC endpoints: HTTPS from inside the VPC"
  vpc_id      = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-vpce" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  count = local.create_vpc && var.create_interface_endpoints ? 1 : 0

  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr
}

# Interface endpoints cost per AZ-hour, hence the toggle; they let Fargate pull images and ship logs, and
# the tasks reach SQS (their busiest API), without traversing the NAT gateway. Only services something in
# the VPC calls: stackprobe's vpc.endpoints-match-task-calls compares them with what the task roles may call.
resource "aws_vpc_endpoint" "interface" {
  for_each = local.create_vpc && var.create_interface_endpoints ? toset(var.interface_endpoint_services) : toset([])

  vpc_id              = aws_vpc.this[0].id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.value}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private_app[*].id
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true

  tags = merge(var.tags, { Name = "${var.name}-${each.value}" })
}

################################################################################
# Flow logs
################################################################################

resource "aws_cloudwatch_log_group" "flow_logs" {
  count = local.create_vpc ? 1 : 0

  #checkov:skip=CKV_AWS_338:Flow logs are kept 90 days (flow_log_retention_in_days) for tracing recent incidents; a year of ALL traffic is a cost trap (docs/ARCHITECTURE.md states the price).

  name              = "/aws/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  count = local.create_vpc ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    # Confused-deputy protection: only flow logs of this account may assume it.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [aws_vpc.this[0].owner_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  count = local.create_vpc ? 1 : 0

  name_prefix          = "${substr(var.name, 0, 24)}-flowlogs-"
  assume_role_policy   = data.aws_iam_policy_document.flow_logs_assume[0].json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs" {
  count = local.create_vpc ? 1 : 0

  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = ["${aws_cloudwatch_log_group.flow_logs[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  count = local.create_vpc ? 1 : 0

  name   = "flow-logs-delivery"
  role   = aws_iam_role.flow_logs[0].id
  policy = data.aws_iam_policy_document.flow_logs[0].json
}

# ALL traffic (accepted flows are what an incident is traced through), aggregated over 10 minutes:
# the same flows in up to 10x fewer records than at 60 s, and CloudWatch Logs bills per GB ingested.
resource "aws_flow_log" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id                   = aws_vpc.this[0].id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs[0].arn
  iam_role_arn             = aws_iam_role.flow_logs[0].arn
  max_aggregation_interval = 600

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Existing network
################################################################################

locals {
  existing_subnets = var.create && var.existing_network != null ? merge(
    { for i, id in var.existing_network.public_subnet_ids : "public-${i}" => id },
    { for i, id in var.existing_network.private_app_subnet_ids : "private-app-${i}" => id },
    { for i, id in var.existing_network.private_data_subnet_ids : "private-data-${i}" => id },
  ) : {}
}

# Read, not trusted: every subnet given must exist and belong to the given VPC, so a wrong ID fails the
# plan here, naming the subnet, instead of the apply later at the first resource placed in it.
data "aws_vpc" "existing" {
  count = var.create && var.existing_network != null ? 1 : 0

  id = var.existing_network.vpc_id
}

data "aws_subnet" "existing" {
  for_each = local.existing_subnets

  id = each.value

  lifecycle {
    postcondition {
      condition     = self.vpc_id == var.existing_network.vpc_id
      error_message = "Subnet ${each.value} (${each.key} in existing_network) is in ${self.vpc_id}, not in ${var.existing_network.vpc_id}."
    }
  }
}

locals {
  existing_azs = {
    for tier in ["public", "private-app", "private-data"] : tier => distinct([
      for key, subnet in data.aws_subnet.existing : subnet.availability_zone if startswith(key, "${tier}-")
    ])
  }
}
