output "endpoint" {
  value = aws_db_instance.this.endpoint
}
