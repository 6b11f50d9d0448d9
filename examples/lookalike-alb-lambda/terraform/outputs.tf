output "url" {
  value = "https://${aws_lb.main.dns_name}"
}

output "ecr_repository_url" {
  value = aws_ecr_repository.app.repository_url
}

output "push_commands" {
  value = <<-EOT
    aws ecr get-login-password --region ${var.region} | docker login --username AWS --password-stdin ${data.aws_caller_identity.current.account_id}.dkr.ecr.${var.region}.amazonaws.com
    docker build -t ${aws_ecr_repository.app.repository_url}:${var.image_tag} ../app
    docker push ${aws_ecr_repository.app.repository_url}:${var.image_tag}
  EOT
}
