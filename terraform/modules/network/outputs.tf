################################################################################
# VPC
################################################################################

output "vpc_id" {
  description = "ID of the VPC."
  value       = try(aws_vpc.this[0].id, null)
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = try(aws_vpc.this[0].cidr_block, null)
}

output "azs" {
  description = "Availability zones used."
  value       = local.azs
}

################################################################################
# Subnets
################################################################################

output "public_subnet_ids" {
  description = "IDs of the public subnets (ALB, NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_app_subnet_ids" {
  description = "IDs of the private application subnets (Fargate tasks, interface endpoints)."
  value       = aws_subnet.private_app[*].id
}

output "private_data_subnet_ids" {
  description = "IDs of the private data subnets (RDS, RDS Proxy, ElastiCache)."
  value       = aws_subnet.private_data[*].id
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
