resource "aws_ecr_repository" "api" {
  name         = "quotes-api"
  force_delete = true
}
