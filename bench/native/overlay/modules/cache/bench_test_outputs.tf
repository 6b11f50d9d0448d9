# Test-only outputs for bench/native (copied into the benchmark's private copy of terraform/, never into
# terraform/ itself). `terraform test` assertions are evaluated in the root module, where a child module is
# only its outputs: `module.storage.aws_s3_bucket_public_access_block.this` is "Unsupported attribute". A
# native-test user has to expose what the assertions need, which is what these files do.

output "bench_ingress_rules" {
  value = values(aws_vpc_security_group_ingress_rule.this)
}
