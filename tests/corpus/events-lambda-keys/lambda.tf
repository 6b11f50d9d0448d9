data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ingest" {
  name               = "events-ingest"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy_attachment" "ingest_logs" {
  role       = aws_iam_role.ingest.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_cloudwatch_log_group" "ingest" {
  name              = "/aws/lambda/events-ingest"
  retention_in_days = 30
}

resource "aws_lambda_function" "ingest" {
  function_name = "events-ingest"
  role          = aws_iam_role.ingest.arn
  runtime       = "python3.12"
  handler       = "ingest.handler"
  filename      = "${path.module}/build/ingest.zip"
  timeout       = 30

  depends_on = [aws_cloudwatch_log_group.ingest]
}

# Added later for the Slack notifications; copied from the ingest function.
resource "aws_iam_role" "notify" {
  name               = "events-notify"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy_attachment" "notify_logs" {
  role       = aws_iam_role.notify.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_lambda_function" "notify" {
  function_name = "events-notify"
  role          = aws_iam_role.notify.arn
  runtime       = "python3.12"
  handler       = "notify.handler"
  filename      = "${path.module}/build/notify.zip"
  timeout       = 10
}

resource "aws_cloudwatch_event_rule" "failed_ingest" {
  name          = "events-failed-ingest"
  event_pattern = jsonencode({ source = ["events.ingest"], "detail-type" = ["IngestFailed"] })
}

resource "aws_cloudwatch_event_target" "notify" {
  rule = aws_cloudwatch_event_rule.failed_ingest.name
  arn  = aws_lambda_function.notify.arn
}

resource "aws_lambda_permission" "notify" {
  statement_id  = "AllowEventBridge"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.notify.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.failed_ingest.arn
}
