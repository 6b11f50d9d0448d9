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
        "DB_ENGINE": "postgres",
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


def empty_app_services() -> None:
    """Empty S3 and SQS, the only services the app uses, in moto's default account.

    moto's state belongs to the process: an emulator a test starts here (mock_aws, or a ThreadedMotoServer) sees
    what earlier tests in the same xdist worker left in that account (the harness checks' job flows create the
    same `sp-test-*` buckets). Not mock_aws's own reset, which re-creates every moto backend this process has
    loaded: once a harness test in the same worker has loaded IAM with AWS's managed policies (about 1,500,
    rebuilt for every partition), that reset costs seconds. It made each test here spend 5-6 s in setup and as
    much again in teardown in a full run, against 0.1 s when this directory runs alone.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    for backends in (s3_backends, sqs_backends):
        backends[DEFAULT_ACCOUNT_ID].reset()


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


class MemoryJobStore:
    """The API's job records in memory, for the HTTP tests that are not about the database (same methods as
    modelserve.db.JobStore; test_modelserve_db.py runs the real one against a real PostgreSQL)."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.unavailable: str | None = None  # set: every call fails as a database that cannot be reached

    def _available(self) -> None:
        from modelserve.db import DatabaseUnavailableError

        if self.unavailable is not None:
            raise DatabaseUnavailableError(self.unavailable)

    def record(self, job_id: str, image_key: str, model: str) -> None:
        self._available()
        self.records[job_id] = {"job_id": job_id, "status": "queued", "image_key": image_key, "model": model}

    def mark_failed(self, job_id: str, error: str) -> None:
        self._available()
        self.records[job_id] |= {"status": "failed", "error": error}

    def submitted(self, job_id: str) -> dict[str, Any] | None:
        self._available()
        return self.records.get(job_id)

    def recent(self, limit: int) -> tuple[list[dict[str, Any]], str]:
        self._available()
        return list(self.records.values())[-limit:][::-1], "memory"

    def check(self) -> dict[str, Any]:
        if self.unavailable is not None:
            return {"primary memory": {"ok": False, "error": self.unavailable}}
        return {"primary memory": {"ok": True, "user": "modelserve_app"}}


ROLES_SQL = APP_DIR / "sql" / "postgres-roles.sql"
MASTER_USER, MASTER_PASSWORD = "modelserve_admin", "master-pw"


@dataclass
class Database:
    """A local PostgreSQL behind a pretend RDS Proxy endpoint, as `--datastore` serves the reference stack's."""

    server: Any  # stackprobe.datastores.postgres.PostgresServer
    authority: Path  # the CA certificate its TLS certificate is signed by

    @property
    def port(self) -> int:
        return int(self.server.port)

    def env(self) -> dict[str, str]:
        """The API's database variables pointed at this server, and the trust store that verifies it."""
        return {"DB_HOST": "127.0.0.1", "DB_PORT": str(self.port), "SSL_CERT_FILE": str(self.authority)}

    def sql(self, statement: str) -> str:
        return str(self.server.sql(statement))

    def stop(self) -> None:
        self.server.stop()


def start_database(work: Path) -> Database:
    import pytest

    from stackprobe.datastores.engines import host_servers
    from stackprobe.datastores.postgres import PostgresServer
    from stackprobe.datastores.servers import ServerSpec
    from stackprobe.datastores.tls import LocalAuthority
    from stackprobe.probes.process import free_port

    host = next((server for server in host_servers() if server.flavour == "postgres"), None)
    if host is None:
        pytest.skip("no PostgreSQL binaries here (install postgresql)")
    authority = LocalAuthority(work)
    spec = ServerSpec(
        "modelserve database",
        ("modelserve.proxy-abc.us-east-1.rds.amazonaws.com",),
        db_name="modelserve",
        master_user=MASTER_USER,
        master_password=MASTER_PASSWORD,
        iam_users=("modelserve_app",),  # the RDS Proxy's user: its token is not checked here
        tls=True,
        setup_sql=ROLES_SQL,  # as --datastore-sql runs it: as the master, over TLS
    )
    server = PostgresServer(spec, host, free_port(), authority)
    server.start()
    return Database(server, Path(authority.certificate))
