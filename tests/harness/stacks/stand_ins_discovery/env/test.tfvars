# A certificate in the emulator's own account, given in a var file.
certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
zone_id         = "Z0EXAMPLEZONE"
