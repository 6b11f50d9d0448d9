output "vpc_id" {
  value = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Subnet ids, ordered by availability zone name."
  value       = [for az in sort(keys(aws_subnet.public)) : aws_subnet.public[az].id]
}
