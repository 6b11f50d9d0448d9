resource "aws_cognito_user_pool" "ops" {
  name                     = "events-ops"
  mfa_configuration        = "ON"
  auto_verified_attributes = ["email"]

  software_token_mfa_configuration {
    enabled = true
  }
}

# Sign-in with the company's Google Workspace accounts.
resource "aws_cognito_identity_provider" "google" {
  user_pool_id  = aws_cognito_user_pool.ops.id
  provider_name = "Google"
  provider_type = "Google"

  provider_details = {
    authorize_scopes = "openid email"
    client_id        = "731804459127-e0h5s2ml9vqr3b1bq1nnc7kq2hb8f1p4.apps.googleusercontent.com"
    client_secret    = "q7Jx2vLm9PzR4tWc8NbY5kHd"
  }

  attribute_mapping = {
    email    = "email"
    username = "sub"
  }
}
