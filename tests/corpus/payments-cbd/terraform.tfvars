vpc_id                = "vpc-0a1b2c3d4e5f60718"
subnet_ids            = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"]
alb_security_group_id = "sg-0a1b2c3d4e5f6071b"
