################################################################################
# KMS key
################################################################################

output "key_arn" {
  description = "ARN of the KMS key."
  value       = try(aws_kms_key.this[0].arn, null)
}

output "key_id" {
  description = "ID of the KMS key."
  value       = try(aws_kms_key.this[0].key_id, null)
}

output "alias_arn" {
  description = "ARN of the KMS key alias."
  value       = try(aws_kms_alias.this[0].arn, null)
}
