# Deliberately invalid: the harness must report terraform's own parse error, with a remedy.
resource "aws_s3_bucket" "broken" {
  bucket = "broken-bucket"
  tags = {
    Name = "missing closing brace"
}
