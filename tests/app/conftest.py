"""Fixtures for the modelserve reference app: an in-process moto account with the app's buckets and queues."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from modelserve_testlib import (
    FAKE_CREDENTIALS,
    REGION,
    TOY_MODEL,
    Database,
    Stack,
    base_env,
    build_stack,
    empty_app_services,
    start_database,
)
from moto import mock_aws


def pytest_configure(config: pytest.Config) -> None:
    # The project's pytest plugin registers "unit"; until it is installed, --strict-markers would
    # reject these modules, so register it here only when nobody else has.
    if not any(line.split(":")[0].strip() == "unit" for line in config.getini("markers")):
        config.addinivalue_line("markers", "unit: fast tests that need no external service")


@pytest.fixture
def clean_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no stray endpoint/profile, so nothing can reach a real account."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("WORKER_") or name in base_env(""):
            monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


# Shared so botocore parses the S3/SQS service models once per run rather than once per test.
_SESSION = boto3.session.Session()


@pytest.fixture
def stack(clean_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    mock = mock_aws()
    empty_app_services()
    mock.start(reset=False)
    try:
        s3 = _SESSION.client("s3", region_name=REGION)
        sqs = _SESSION.client("sqs", region_name=REGION)
        queue_url, dlq_url = build_stack(s3, sqs)
        env = base_env(queue_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        stack = Stack(s3=s3, sqs=sqs, queue_url=queue_url, dlq_url=dlq_url, env=env)
        stack.put_model("toy", TOY_MODEL)
        yield stack
    finally:
        mock.stop(remove_data=False)
        empty_app_services()


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A real PostgreSQL made as RDS makes the stack's (database modelserve, its master), with the operator's
    one-off roles (app/sql/postgres-roles.sql) run as that master; skipped where no PostgreSQL is installed."""
    database = start_database(tmp_path_factory.mktemp("modelserve-db"))
    try:
        yield database
    finally:
        database.stop()
