################################################################################
# General
################################################################################

# Inputs only (create, name, tags): see variables.tf.

################################################################################
# Repository
################################################################################

resource "aws_ecr_repository" "this" {
  count = var.create ? 1 : 0

  name = var.name

  # Immutable tags: a deployed tag always means the same image, so a rollback
  # to "v1.4.2" really is the image that was tested as v1.4.2.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

################################################################################
# Lifecycle policy
################################################################################

resource "aws_ecr_lifecycle_policy" "this" {
  count = var.create ? 1 : 0

  repository = aws_ecr_repository.this[0].name

  # Untagged images are build leftovers; tagged images are releases and are
  # kept up to a count so rollbacks have a window.
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after ${var.untagged_image_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_image_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the last ${var.max_tagged_images} tagged images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.max_tagged_images
        }
        action = { type = "expire" }
      },
    ]
  })
}
