"""Shared helpers for the modelserve tests.

Named uniquely (not helpers.py) so that it cannot shadow or be shadowed by other test directories' modules.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

APP_DIR = Path(__file__).resolve().parents[2] / "app"
# The app is deliberately not an installed package (it is a container payload), so tests import it
# the same way the container does: with app/ on the path.
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
MODELS_BUCKET = "sp-test-models"
UPLOADS_BUCKET = "sp-test-uploads"
MAX_RECEIVE_COUNT = 2
# Linear model used throughout: for inputs [a, b] the scores are cat=a, dog=b, fox=(a+b)/2+0.1.
TOY_MODEL: dict[str, Any] = {
    "labels": ["cat", "dog", "fox"],
    "weights": [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]],
    "bias": [0.0, 0.0, 0.1],
}


def base_env(queue_url: str) -> dict[str, str]:
    """Exactly the variables the ECS task definition declares for the API container."""
    return {
        "APP_PORT": "8080",
        "HEALTH_PATH": "/health",
        "MODELS_BUCKET": MODELS_BUCKET,
        "UPLOADS_BUCKET": UPLOADS_BUCKET,
        "JOBS_QUEUE_URL": queue_url,
        "AWS_REGION": REGION,
        "DB_HOST": "db.internal.example",
        "DB_PORT": "5432",
        "DB_NAME": "modelserve",
        "DB_USER": "modelserve_app",
        "DB_POOL_SIZE": "10",
        "HTTP_KEEPALIVE_SECONDS": "75",
    }


FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class Stack:
    s3: S3Client
    sqs: SQSClient
    queue_url: str
    dlq_url: str
    env: dict[str, str]

    def put_model(self, name: str, doc: dict[str, Any] | str) -> None:
        body = doc if isinstance(doc, str) else json.dumps(doc)
        self.s3.put_object(Bucket=MODELS_BUCKET, Key=f"models/{name}.json", Body=body.encode())

    def queue_depth(self, url: str) -> tuple[int, int]:
        """(visible, in flight) message counts."""
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def state(self, job_id: str) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=UPLOADS_BUCKET, Key=f"results/{job_id}.json")["Body"].read()
        result: dict[str, Any] = json.loads(body)
        return result


def build_stack(s3: S3Client, sqs: SQSClient) -> tuple[str, str]:
    """Buckets, a jobs queue and its DLQ wired with a redrive policy, as the Terraform declares them."""
    for bucket in (MODELS_BUCKET, UPLOADS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    dlq_url = sqs.create_queue(QueueName="sp-test-jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName="sp-test-jobs",
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    """A minimal child environment: only what the task definition would set, plus PYTHONPATH."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(APP_DIR)}
    env.update(FAKE_CREDENTIALS)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env.update(extra)
    return env
