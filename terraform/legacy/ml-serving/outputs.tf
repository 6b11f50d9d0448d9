output "alb_dns_name" {
  description = "Public endpoint of the inference API."
  value       = aws_lb.api.dns_name
}

output "preprocess_api_endpoint" {
  value = aws_apigatewayv2_api.preprocess.api_endpoint
}

output "models_bucket" {
  value = aws_s3_bucket.models.bucket
}

output "ecr_repository_url" {
  value = aws_ecr_repository.inference.repository_url
}

output "db_endpoint" {
  value = aws_db_instance.postgres.endpoint
}

output "notebook_public_ip" {
  value = aws_instance.notebook.public_ip
}
