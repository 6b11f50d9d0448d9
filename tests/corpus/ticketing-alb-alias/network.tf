resource "aws_vpc" "main" {
  cidr_block           = "10.70.0.0/16"
  enable_dns_hostnames = true

  tags = { Name = "ticketing" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
}

# No NAT gateway (it costs money): the tasks get public IPs to pull their image.
resource "aws_subnet" "public" {
  count                   = 2
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.70.${count.index}.0/24"
  availability_zone       = ["eu-west-1a", "eu-west-1b"][count.index]
  map_public_ip_on_launch = true
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
}

resource "aws_route_table_association" "public" {
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}
