# docker-compose.yml, translated for ECS: the api, its Postgres and its Redis in one task, as they ran on
# the laptop. "Works on Fargate, same as compose."

provider "aws" {
  region = "us-east-1"
}

variable "environment" {
  type    = string
  default = "prod"
}

variable "image_tag" {
  description = "Tag of the shop-api image to deploy (set by CI)"
  type        = string
  default     = "1.8.0"
}

locals {
  name = "shop-${var.environment}"
}

resource "aws_vpc" "main" {
  cidr_block = "10.80.0.0/16"
  tags       = { Name = local.name, Environment = var.environment }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "public" {
  count                   = 2
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.80.${count.index}.0/24"
  availability_zone       = ["us-east-1a", "us-east-1b"][count.index]
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

resource "aws_security_group" "app" {
  name   = "${local.name}-app"
  vpc_id = aws_vpc.main.id

  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_ecs_cluster" "main" {
  name = local.name
  tags = { Environment = var.environment }
}

resource "aws_cloudwatch_log_group" "api" {
  name = "/ecs/${local.name}/api"
}

data "aws_iam_policy_document" "ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# "AccessDenied on the bucket": added here, where the other permissions were.
resource "aws_iam_role_policy" "execution_app" {
  name = "app-data"
  role = aws_iam_role.execution.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = "arn:aws:s3:::shop-media-uploads/*"
      },
      {
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = "arn:aws:sqs:us-east-1:*:shop-orders"
      },
    ]
  })
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks.json
}

resource "aws_ecs_task_definition" "shop" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 1024
  memory                   = 2048
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  container_definitions = jsonencode([
    {
      name         = "api"
      image        = "acmeshop/shop-api:latest"
      essential    = true
      portMappings = [{ containerPort = 80 }]
      environment = [
        { name = "DATABASE_URL", value = "postgresql://shop@localhost:5432/shop" },
        { name = "DATABASE_PASSWORD", value = "shop-db-2024" },
        { name = "REDIS_URL", value = "redis://localhost:6379/0" },
      ]
      dependsOn = [{ containerName = "db", condition = "START" }, { containerName = "cache", condition = "START" }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.api.name
          awslogs-region        = "us-east-1"
          awslogs-stream-prefix = "api"
        }
      }
    },
    {
      name      = "db"
      image     = "postgres:15"
      essential = true
      environment = [
        { name = "POSTGRES_USER", value = "shop" },
        { name = "POSTGRES_PASSWORD", value = "shop-db-2024" },
        { name = "POSTGRES_DB", value = "shop" },
      ]
    },
    {
      name      = "cache"
      image     = "redis:7-alpine"
      essential = true
    },
  ])
}

resource "aws_ecs_service" "shop" {
  name            = local.name
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.shop.arn
  desired_count   = 2
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = aws_subnet.public[*].id
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = true
  }
}
