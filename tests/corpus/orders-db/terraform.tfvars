region      = "eu-west-2"
db_username = "orders"
db_password = "Orders2023!prod"
