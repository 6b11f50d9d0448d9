output "url" {
  value = "http://${aws_lb.main.dns_name}"
}

output "db_endpoint" {
  value = aws_db_instance.mysql.endpoint
}

output "db_secret_arn" {
  description = "Secrets Manager secret holding the MySQL master password."
  value       = aws_db_instance.mysql.master_user_secret[0].secret_arn
}
