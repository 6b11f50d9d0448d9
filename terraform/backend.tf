# Partial configuration: bucket, key and region are supplied at init time so
# the same code serves every environment, e.g.
#   terraform init -backend-config=backend/prod.s3.tfbackend
# S3-native locking (use_lockfile) replaces the DynamoDB lock table. See
# README.md ("State bootstrap") for creating the state bucket.
terraform {
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
