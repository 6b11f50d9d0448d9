"""The environment contract: what the task definition must declare, and how a gap is reported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from modelserve.config import ConfigError, load_config, load_worker_config
from modelserve_testlib import DB_SECRET, base_env, subprocess_env

pytestmark = pytest.mark.unit

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/sp-jobs"


def test_full_environment_is_parsed() -> None:
    config = load_config(base_env(QUEUE_URL))
    assert config.app_port == 8080
    assert config.health_path == "/health"
    assert config.models_bucket == "sp-test-models"
    assert config.uploads_bucket == "sp-test-uploads"
    assert config.jobs_queue_url == QUEUE_URL
    assert config.region == "us-east-1"
    assert (config.db.host, config.db.port, config.db.name) == ("db.internal.example", 5432, "modelserve")
    assert (config.db.username, config.db.password) == ("app", "s3cr3t-do-not-print")
    assert "s3cr3t" not in repr(config)


def test_defaults_for_port_and_health_path() -> None:
    env = base_env(QUEUE_URL)
    del env["APP_PORT"], env["HEALTH_PATH"]
    config = load_config(env)
    assert (config.app_port, config.health_path) == (8080, "/health")


@pytest.mark.parametrize(
    "name",
    ["MODELS_BUCKET", "UPLOADS_BUCKET", "JOBS_QUEUE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_SECRET"],
)
def test_each_missing_variable_is_named(name: str) -> None:
    env = base_env(QUEUE_URL)
    del env[name]
    with pytest.raises(ConfigError) as excinfo:
        load_config(env)
    assert str(excinfo.value) == f"missing required environment variable(s): {name}"


def test_empty_value_counts_as_missing_and_all_gaps_are_reported_together() -> None:
    env = base_env(QUEUE_URL)
    env["DB_HOST"] = "  "
    del env["AWS_REGION"], env["UPLOADS_BUCKET"]
    with pytest.raises(ConfigError, match=r"UPLOADS_BUCKET, AWS_REGION \(or AWS_DEFAULT_REGION\), DB_HOST"):
        load_config(env)


def test_region_falls_back_to_aws_default_region_and_prefers_aws_region() -> None:
    env = base_env(QUEUE_URL)
    del env["AWS_REGION"]
    env["AWS_DEFAULT_REGION"] = "eu-west-1"
    assert load_config(env).region == "eu-west-1"
    env["AWS_REGION"] = "eu-central-1"
    assert load_config(env).region == "eu-central-1"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODELS_BUCKET", "arn:aws:s3:::sp-models", "MODELS_BUCKET looks like an ARN"),
        ("UPLOADS_BUCKET", "Not_A_Bucket", "UPLOADS_BUCKET='Not_A_Bucket' is not a valid S3 bucket name"),
        (
            "JOBS_QUEUE_URL",
            "arn:aws:sqs:us-east-1:123456789012:sp-jobs",
            "JOBS_QUEUE_URL=.* is not a queue URL",
        ),
        ("APP_PORT", "http", "APP_PORT='http' is not an integer port"),
        ("DB_PORT", "70000", "DB_PORT=70000 is outside 1-65535"),
        ("HEALTH_PATH", "health", "HEALTH_PATH='health' must be a plain absolute path"),
        ("HEALTH_PATH", "/<name>", "HEALTH_PATH='/<name>' must be a plain absolute path"),
        ("DB_SECRET", '{"username": "app"}', "DB_SECRET JSON lacks non-empty string field\\(s\\): password"),
        ("DB_SECRET", '["app", "pw"]', "DB_SECRET must be a JSON object"),
    ],
)
def test_malformed_values_are_rejected(name: str, value: str, message: str) -> None:
    env = base_env(QUEUE_URL)
    env[name] = value
    with pytest.raises(ConfigError, match=message):
        load_config(env)


def test_unparseable_secret_is_reported_without_echoing_it() -> None:
    env = base_env(QUEUE_URL)
    env["DB_SECRET"] = "password=hunter2-top-secret"
    with pytest.raises(ConfigError) as excinfo:
        load_config(env)
    assert "DB_SECRET is not valid JSON" in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)


def test_secret_may_carry_extra_rds_fields() -> None:
    env = base_env(QUEUE_URL)
    env["DB_SECRET"] = json.dumps({**json.loads(DB_SECRET), "host": "other", "port": 5432, "dbname": "x"})
    assert load_config(env).db.host == "db.internal.example"


def test_worker_needs_no_database_settings_and_bounds_its_knobs() -> None:
    env = {k: v for k, v in base_env(QUEUE_URL).items() if not k.startswith("DB_")}
    config = load_worker_config(env)
    assert (config.wait_seconds, config.max_polls) == (20, None)
    config = load_worker_config({**env, "WORKER_WAIT_SECONDS": "0", "WORKER_MAX_POLLS": "3"})
    assert (config.wait_seconds, config.max_polls) == (0, 3)
    with pytest.raises(ConfigError, match="WORKER_WAIT_SECONDS=21 is outside 0-20"):
        load_worker_config({**env, "WORKER_WAIT_SECONDS": "21"})
    with pytest.raises(ConfigError, match="WORKER_MAX_POLLS=0 must be at least 1"):
        load_worker_config({**env, "WORKER_MAX_POLLS": "0"})
    with pytest.raises(ConfigError, match="missing required environment variable\\(s\\): JOBS_QUEUE_URL"):
        load_worker_config({k: v for k, v in env.items() if k != "JOBS_QUEUE_URL"})


@pytest.mark.parametrize(
    ("module", "prefix", "dropped"),
    [
        ("modelserve.api", "modelserve:", "DB_SECRET"),
        ("modelserve.worker", "modelserve.worker:", "UPLOADS_BUCKET"),
    ],
)
def test_process_exits_at_startup_naming_the_missing_variable(module: str, prefix: str, dropped: str) -> None:
    env = {k: v for k, v in base_env(QUEUE_URL).items() if k != dropped}
    proc = subprocess.run(
        [sys.executable, "-m", module],
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{prefix} configuration error: missing required environment variable(s): {dropped}" in proc.stderr
