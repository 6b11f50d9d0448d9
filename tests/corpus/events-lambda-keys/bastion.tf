resource "aws_key_pair" "bastion" {
  key_name   = "events-bastion"
  public_key = file("${path.module}/keys/bastion.pub")
}

resource "aws_security_group" "bastion" {
  name        = "events-bastion"
  description = "SSH from the ops VPN"

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.admin_cidr]
  }

  egress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_instance" "bastion" {
  ami                    = var.bastion_ami
  instance_type          = "t3.nano"
  key_name               = aws_key_pair.bastion.key_name
  vpc_security_group_ids = [aws_security_group.bastion.id]

  root_block_device {
    volume_size = 8
  }

  tags = { Name = "events-bastion" }
}
