# Test-only outputs for bench/native (copied into the benchmark's private copy of terraform/, never into
# terraform/ itself). `terraform test` assertions are evaluated in the root module, where a child module is
# only its outputs: `module.storage.aws_s3_bucket_public_access_block.this` is "Unsupported attribute". A
# native-test user has to expose what the assertions need, which is what these files do.

output "bench_ingress_rules" {
  value = concat(
    values(aws_vpc_security_group_ingress_rule.db_from_clients),
    aws_vpc_security_group_ingress_rule.db_from_proxy,
    values(aws_vpc_security_group_ingress_rule.proxy_from_clients),
  )
}

# Only the attributes the assertions read: the whole instance object holds sensitive values (password).
output "bench_db_instances" {
  value = [for db in aws_db_instance.this : {
    identifier              = db.identifier
    backup_retention_period = db.backup_retention_period
    multi_az                = db.multi_az
    storage_encrypted       = db.storage_encrypted
    kms_key_id              = db.kms_key_id
    publicly_accessible     = db.publicly_accessible
  }]
}

output "bench_connection_alarms" {
  value = aws_cloudwatch_metric_alarm.connections
}
