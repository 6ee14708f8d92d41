output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR of the VPC, for security group rules."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets: EKS nodes, RDS and internal load balancers."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Public subnets: NAT gateways and internet-facing load balancers only."
  value       = aws_subnet.public[*].id
}
