variable "zone_id" {
  type = string
}

resource "aws_route53_record" "api" {
  zone_id = var.zone_id
  name    = "api.stackprobe.example.org"
  type    = "A"
  ttl     = 60
  records = ["192.0.2.10"]
}
