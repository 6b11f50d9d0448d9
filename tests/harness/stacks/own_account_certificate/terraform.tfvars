certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/5f0e1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
