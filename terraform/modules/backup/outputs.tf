################################################################################
# Vault
################################################################################

output "vault_arn" {
  description = "ARN of the backup vault."
  value       = try(aws_backup_vault.this[0].arn, null)
}

################################################################################
# Plan
################################################################################

output "plan_id" {
  description = "ID of the backup plan."
  value       = try(aws_backup_plan.this[0].id, null)
}

################################################################################
# Selection
################################################################################

output "selection_id" {
  description = "ID of the backup selection."
  value       = try(aws_backup_selection.this[0].id, null)
}

output "copy_vault_arn" {
  description = "ARN of the vault recovery points are copied to in copy_region (null without a copy)."
  value       = try(aws_backup_vault.copy[0].arn, null)
}
