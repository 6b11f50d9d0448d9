################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create the network."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix for all network resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase alphanumeric characters or hyphens."
  }
}

variable "tags" {
  description = "Additional tags for all resources."
  type        = map(string)
  default     = {}
}

################################################################################
# VPC
################################################################################

variable "existing_network" {
  description = "An existing VPC to place the stack in instead of creating one: its ID and the subnet IDs of each tier (at least two AZs each). The stack then creates no VPC, subnets, routes, NAT gateways, endpoints or flow logs: the network's owner runs those."
  type = object({
    vpc_id                  = string
    public_subnet_ids       = list(string)
    private_app_subnet_ids  = list(string)
    private_data_subnet_ids = list(string)
  })
  default = null

  validation {
    condition = var.existing_network == null || try(
      length(var.existing_network.public_subnet_ids) >= 2 && length(var.existing_network.private_app_subnet_ids) >= 2 && length(var.existing_network.private_data_subnet_ids) >= 2,
      false,
    )
    error_message = "existing_network needs at least two subnets per tier (public, private_app, private_data): the ALB and the RDS subnet group span two AZs."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC. Must be a /16 or larger: the subnet layout carves /24 and /20 blocks out of it."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && endswith(var.vpc_cidr, "/16")
    error_message = "vpc_cidr must be a valid /16 IPv4 CIDR (AWS VPCs are at most /16)."
  }
}

################################################################################
# Subnets
################################################################################

variable "az_count" {
  description = "Number of availability zones to spread subnets over (2 minimum for ALB and RDS subnet groups; 3 recommended in production)."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

################################################################################
# NAT gateways
################################################################################

variable "single_nat_gateway" {
  description = "Use one NAT gateway for all AZs (cheaper, but an AZ outage cuts egress for the others). Use false in production for one NAT gateway per AZ."
  type        = bool
  default     = false
}

################################################################################
# Route tables
################################################################################

# No inputs: the route layout follows from the subnets and NAT gateways.

################################################################################
# VPC endpoints
################################################################################

variable "create_interface_endpoints" {
  description = "Whether to create interface VPC endpoints (billed per AZ-hour) for the services in interface_endpoint_services."
  type        = bool
  default     = true
}

variable "interface_endpoint_services" {
  description = "Service short names for interface endpoints (com.amazonaws.<region>.<name>): the APIs the tasks and the ECS agent call that would otherwise cross the NAT gateways (ECR and Logs for the agent, SQS for the tasks). S3 has the gateway endpoint."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "sqs"]

  validation {
    condition     = alltrue([for s in var.interface_endpoint_services : can(regex("^[a-z0-9.-]+$", s))]) && !contains(var.interface_endpoint_services, "s3")
    error_message = "interface_endpoint_services must be service short names; s3 is already served by the free gateway endpoint."
  }
}

################################################################################
# Flow logs
################################################################################

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the flow log group."
  type        = string
  default     = null
}

variable "flow_log_retention_in_days" {
  description = "Retention of VPC flow logs in CloudWatch Logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_in_days)
    error_message = "flow_log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary set on the module's IAM roles (terraform/bootstrap's workload boundary). null: none."
  type        = string
  default     = null
}
