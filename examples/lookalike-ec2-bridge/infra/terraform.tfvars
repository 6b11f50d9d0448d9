aws_region  = "us-east-1"
environment = "production"
app_count   = 2
db_password = "orders-Pr0d-2019!"
