# The zip is built by `make -C ../lambda` and committed so the graders can apply without a build step.
resource "aws_lambda_function" "healthcheck" {
  function_name    = "${var.app_name}-healthcheck"
  filename         = "${path.root}/../lambda/healthcheck.zip"
  source_code_hash = filebase64sha256("${path.root}/../lambda/healthcheck.zip")
  handler          = "healthcheck.handler"
  runtime          = "python3.12"
  role             = data.aws_iam_role.lab.arn
  timeout          = 10

  environment {
    variables = {
      TARGET_URL = "https://${aws_lb.main.dns_name}/healthz"
    }
  }
}

resource "aws_cloudwatch_log_group" "healthcheck" {
  name              = "/aws/lambda/${aws_lambda_function.healthcheck.function_name}"
  retention_in_days = 7
}

resource "aws_cloudwatch_event_rule" "healthcheck" {
  name                = "${var.app_name}-healthcheck"
  schedule_expression = var.healthcheck_schedule
}

resource "aws_cloudwatch_event_target" "healthcheck" {
  rule = aws_cloudwatch_event_rule.healthcheck.name
  arn  = aws_lambda_function.healthcheck.arn
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowExecutionFromEventBridge"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.healthcheck.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.healthcheck.arn
}
