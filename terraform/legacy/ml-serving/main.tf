provider "aws" {
  region  = var.region
  profile = var.aws_profile

  default_tags {
    tags = {
      Environment = "production"
      Team        = "ml-platform"
      Service     = "ml-serving"
    }
  }
}

module "network" {
  source = "./modules/network"

  name = var.name
  cidr = "10.20.0.0/16"
  public_subnets = {
    "eu-west-1a" = "10.20.1.0/24"
    "eu-west-1b" = "10.20.2.0/24"
  }
}

# ---------------------------------------------------------------------------
# Security groups
# ---------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Public load balancer"
  vpc_id      = module.network.vpc_id

  ingress {
    description = "HTTP from anywhere"
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

resource "aws_security_group" "inference" {
  name        = "${var.name}-inference"
  description = "Inference tasks, reachable from the ALB only"
  vpc_id      = module.network.vpc_id

  ingress {
    description     = "App port from the ALB"
    from_port       = 8080
    to_port         = 8080
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "notebook" {
  name        = "${var.name}-notebook"
  description = "Data science notebook box"
  vpc_id      = module.network.vpc_id

  ingress {
    description = "SSH"
    from_port   = 22
    to_port     = 22
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

resource "aws_security_group" "db" {
  name        = "${var.name}-db"
  description = "Postgres feature store"
  vpc_id      = module.network.vpc_id

  # Opened up so the data scientists can query from their laptops.
  ingress {
    description = "Postgres"
    from_port   = 5432
    to_port     = 5432
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

# ---------------------------------------------------------------------------
# IAM: one role shared by the inference tasks, the preprocess Lambda and the
# notebook box, so everything can read models and features.
# ---------------------------------------------------------------------------

resource "aws_iam_role" "ml_app" {
  name = "${var.name}-app"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = "sts:AssumeRole"
      Principal = {
        Service = ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "ec2.amazonaws.com"]
      }
    }]
  })
}

resource "aws_iam_policy" "ml_full_access" {
  name        = "${var.name}-full-access"
  description = "Access for the ML services"

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "*"
      Resource = "*"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "ml_app" {
  role       = aws_iam_role.ml_app.name
  policy_arn = aws_iam_policy.ml_full_access.arn
}

resource "aws_iam_instance_profile" "ml_app" {
  name = "${var.name}-app"
  role = aws_iam_role.ml_app.name
}

resource "aws_iam_role" "ecs_execution" {
  name = "${var.name}-ecs-execution"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "ecs_execution" {
  role       = aws_iam_role.ecs_execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# ---------------------------------------------------------------------------
# Model artefacts
# ---------------------------------------------------------------------------

resource "aws_s3_bucket" "models" {
  bucket = "acme-${var.name}-models"
}

# Model files are downloaded straight from S3 by partner notebooks.
resource "aws_s3_bucket_public_access_block" "models" {
  bucket = aws_s3_bucket.models.id

  block_public_acls       = false
  block_public_policy     = false
  ignore_public_acls      = false
  restrict_public_buckets = false
}

resource "aws_s3_bucket_policy" "models" {
  bucket = aws_s3_bucket.models.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "PublicReadModels"
      Effect    = "Allow"
      Principal = "*"
      Action    = "s3:GetObject"
      Resource  = "${aws_s3_bucket.models.arn}/*"
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.models]
}

resource "aws_ecr_repository" "inference" {
  name                 = "${var.name}/inference"
  image_tag_mutability = "MUTABLE"

  image_scanning_configuration {
    scan_on_push = false
  }
}

# ---------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "inference" {
  name = "/ecs/${var.name}-inference"
}

resource "aws_cloudwatch_log_group" "preprocess" {
  name = "/aws/lambda/${var.name}-preprocess"
}

# ---------------------------------------------------------------------------
# Inference service (ECS Fargate behind the ALB)
# ---------------------------------------------------------------------------

resource "aws_ecs_cluster" "main" {
  name = var.name
}

resource "aws_ecs_task_definition" "inference" {
  family                   = "${var.name}-inference"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 1024
  memory                   = 2048
  execution_role_arn       = aws_iam_role.ecs_execution.arn
  task_role_arn            = aws_iam_role.ml_app.arn

  container_definitions = jsonencode([{
    name      = "inference"
    image     = "${aws_ecr_repository.inference.repository_url}:${var.inference_image_tag}"
    essential = true
    portMappings = [{
      containerPort = 8080
      protocol      = "tcp"
    }]
    environment = [
      { name = "MODEL_BUCKET", value = aws_s3_bucket.models.bucket },
      { name = "DB_HOST", value = aws_db_instance.postgres.address },
      { name = "DB_NAME", value = "features" },
      { name = "DB_USER", value = var.db_username },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.inference.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "inference"
      }
    }
  }])
}

resource "aws_ecs_service" "inference" {
  name            = "${var.name}-inference"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.inference.arn
  desired_count   = var.inference_desired_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = module.network.public_subnet_ids
    security_groups  = [aws_security_group.inference.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.inference.arn
    container_name   = "inference"
    container_port   = 8080
  }

  depends_on = [aws_lb_listener.http]
}

resource "aws_lb" "api" {
  name               = "${var.name}-api"
  load_balancer_type = "application"
  internal           = false
  security_groups    = [aws_security_group.alb.id]
  subnets            = module.network.public_subnet_ids
}

resource "aws_lb_target_group" "inference" {
  name        = "${var.name}-inference"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = module.network.vpc_id

  health_check {
    path    = "/healthz"
    matcher = "200"
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.inference.arn
  }
}

# ---------------------------------------------------------------------------
# Feature store (Postgres)
# ---------------------------------------------------------------------------

resource "aws_db_subnet_group" "main" {
  name       = var.name
  subnet_ids = module.network.public_subnet_ids
}

resource "aws_db_instance" "postgres" {
  identifier              = "${var.name}-features"
  engine                  = "postgres"
  engine_version          = "15.4"
  instance_class          = "db.t3.medium"
  allocated_storage       = 50
  storage_type            = "gp3"
  storage_encrypted       = true
  db_name                 = "features"
  username                = var.db_username
  password                = "SuperSecret123!"
  db_subnet_group_name    = aws_db_subnet_group.main.name
  vpc_security_group_ids  = [aws_security_group.db.id]
  publicly_accessible     = false
  multi_az                = false
  backup_retention_period = 0
  skip_final_snapshot     = true
}

# ---------------------------------------------------------------------------
# Notebook box for the data scientists
# ---------------------------------------------------------------------------

resource "aws_instance" "notebook" {
  ami                    = var.ami_id
  instance_type          = var.notebook_instance_type
  subnet_id              = module.network.public_subnet_ids[0]
  vpc_security_group_ids = [aws_security_group.notebook.id]
  iam_instance_profile   = aws_iam_instance_profile.ml_app.name

  root_block_device {
    volume_size = 100
    volume_type = "gp3"
    encrypted   = true
  }

  tags = {
    Name = "${var.name}-notebook"
  }
}

# ---------------------------------------------------------------------------
# Preprocess endpoint (Lambda behind an HTTP API)
# ---------------------------------------------------------------------------

resource "aws_lambda_function" "preprocess" {
  function_name    = "${var.name}-preprocess"
  role             = aws_iam_role.ml_app.arn
  runtime          = "python3.12"
  handler          = "handler.handler"
  filename         = "${path.module}/lambda/preprocess.zip"
  source_code_hash = filebase64sha256("${path.module}/lambda/preprocess.zip")
  timeout          = 30
  memory_size      = 512

  environment {
    variables = {
      MODEL_BUCKET = aws_s3_bucket.models.bucket
    }
  }

  depends_on = [aws_cloudwatch_log_group.preprocess]
}

resource "aws_apigatewayv2_api" "preprocess" {
  name          = "${var.name}-preprocess"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "preprocess" {
  api_id                 = aws_apigatewayv2_api.preprocess.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.preprocess.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "preprocess" {
  api_id    = aws_apigatewayv2_api.preprocess.id
  route_key = "POST /preprocess"
  target    = "integrations/${aws_apigatewayv2_integration.preprocess.id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.preprocess.id
  name        = "$default"
  auto_deploy = true
}

resource "aws_lambda_permission" "apigw" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.preprocess.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.preprocess.execution_arn}/*/*"
}
