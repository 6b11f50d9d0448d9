# Test-only outputs for bench/native (copied into the benchmark's private copy of terraform/, never into
# terraform/ itself). `terraform test` assertions are evaluated in the root module, where a child module is
# only its outputs: `module.storage.aws_s3_bucket_public_access_block.this` is "Unsupported attribute". A
# native-test user has to expose what the assertions need, which is what these files do.

output "bench_public_access_blocks" {
  value = concat(aws_s3_bucket_public_access_block.logs, values(aws_s3_bucket_public_access_block.this))
}

output "bench_logs_bucket_encryption" {
  value = aws_s3_bucket_server_side_encryption_configuration.logs
}

output "bench_data_bucket_encryption" {
  value = values(aws_s3_bucket_server_side_encryption_configuration.this)
}
