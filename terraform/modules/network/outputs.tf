################################################################################
# VPC
################################################################################

output "vpc_id" {
  description = "ID of the VPC (created, or existing_network's)."
  value       = try(aws_vpc.this[0].id, data.aws_vpc.existing[0].id, null)
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = try(aws_vpc.this[0].cidr_block, data.aws_vpc.existing[0].cidr_block, null)
}

output "azs" {
  description = "Availability zones used."
  value       = var.existing_network == null ? local.azs : local.existing_azs["private-app"]
}

################################################################################
# Subnets
################################################################################

output "public_subnet_ids" {
  description = "IDs of the public subnets (ALB, NAT gateways)."
  value       = var.existing_network == null ? aws_subnet.public[*].id : var.existing_network.public_subnet_ids

  precondition {
    condition     = var.existing_network == null || length(try(local.existing_azs["public"], [])) >= 2
    error_message = "The public subnets of existing_network must span at least two availability zones (an ALB needs two)."
  }
}

output "private_app_subnet_ids" {
  description = "IDs of the private application subnets (Fargate tasks, interface endpoints)."
  value       = var.existing_network == null ? aws_subnet.private_app[*].id : var.existing_network.private_app_subnet_ids

  precondition {
    condition     = var.existing_network == null || length(try(local.existing_azs["private-app"], [])) >= 2
    error_message = "The private app subnets of existing_network must span at least two availability zones (tasks survive an AZ loss)."
  }
}

output "private_data_subnet_ids" {
  description = "IDs of the private data subnets (RDS, RDS Proxy, ElastiCache)."
  value       = var.existing_network == null ? aws_subnet.private_data[*].id : var.existing_network.private_data_subnet_ids

  precondition {
    condition     = var.existing_network == null || length(try(local.existing_azs["private-data"], [])) >= 2
    error_message = "The private data subnets of existing_network must span at least two availability zones (RDS subnet groups need two)."
  }
}

################################################################################
# NAT gateways
################################################################################

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways (egress IPs to allow-list with third parties)."
  value       = aws_eip.nat[*].public_ip
}

################################################################################
# VPC endpoints
################################################################################

output "s3_endpoint_prefix_list_id" {
  description = "Prefix list ID of the S3 gateway endpoint (for security group egress rules)."
  value       = try(aws_vpc_endpoint.s3[0].prefix_list_id, null)
}

################################################################################
# Flow logs
################################################################################

output "flow_log_group_name" {
  description = "Name of the CloudWatch log group receiving VPC flow logs."
  value       = try(aws_cloudwatch_log_group.flow_logs[0].name, null)
}
