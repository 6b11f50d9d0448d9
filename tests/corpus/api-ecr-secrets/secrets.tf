# Third-party market-data API key. The value is set by hand in the console.
resource "aws_secretsmanager_secret" "api_keys" {
  name                    = "quotes/api-keys"
  recovery_window_in_days = 0
}
