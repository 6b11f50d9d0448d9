"""The environment contract: what the task definition must declare, and how a gap is reported."""

from __future__ import annotations

import subprocess
import sys

import pytest
from modelserve.config import DEFAULT_KEEPALIVE_SECONDS, ConfigError, keepalive_seconds, load_config, load_worker_config
from modelserve_testlib import base_env, subprocess_env

pytestmark = pytest.mark.app

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
    assert (config.db.user, config.db.pool_size, config.db.read_hosts) == ("modelserve_app", 10, ())
    assert config.keepalive_seconds == 75
    assert config.cache is None


def test_the_task_has_no_database_password_to_hold() -> None:
    """The role authenticates with IAM tokens: no variable carries a password, and none is read."""
    config = load_config(base_env(QUEUE_URL))
    assert not [name for name in vars(config.db) if "pass" in name or "secret" in name]


def test_the_pool_budget_of_the_task_is_split_between_its_server_processes() -> None:
    """DB_POOL_SIZE is what the stack's connection budget counts per task; gunicorn's processes share it."""
    config = load_config({**base_env(QUEUE_URL), "DB_POOL_SIZE": "10", "WEB_CONCURRENCY": "3"})
    assert (config.db.processes, config.db.pool_size_per_process) == (3, 3)
    assert load_config(base_env(QUEUE_URL)).db.pool_size_per_process == 5  # 2 processes by default
    with pytest.raises(ConfigError, match="DB_POOL_SIZE=1 is less than WEB_CONCURRENCY=2"):
        load_config({**base_env(QUEUE_URL), "DB_POOL_SIZE": "1"})


def test_read_replicas_and_cache_are_read_when_given() -> None:
    env = {
        **base_env(QUEUE_URL),
        "DB_READ_HOSTS": "replica-1.internal, replica-2.internal",
        "DB_READ_USER": "modelserve_reader",
        "CACHE_HOST": "cache.internal",
        "CACHE_PORT": "6380",
    }
    config = load_config(env)
    assert config.db.read_hosts == ("replica-1.internal", "replica-2.internal")
    assert config.db.read_user == "modelserve_reader"
    with pytest.raises(ConfigError, match="missing required environment variable\\(s\\): DB_READ_USER"):
        load_config({k: v for k, v in env.items() if k != "DB_READ_USER"})
    assert config.cache is not None and (config.cache.host, config.cache.port) == ("cache.internal", 6380)
    with pytest.raises(ConfigError, match=r"CACHE_HOST \(CACHE_PORT is set\)"):
        load_config({**base_env(QUEUE_URL), "CACHE_PORT": "6379"})


def test_keepalive_comes_from_the_task_and_defaults_past_an_albs_idle_timeout() -> None:
    assert keepalive_seconds({"HTTP_KEEPALIVE_SECONDS": "90"}) == 90
    assert keepalive_seconds({}) == DEFAULT_KEEPALIVE_SECONDS > 65
    with pytest.raises(ConfigError, match="HTTP_KEEPALIVE_SECONDS=0 must be at least 1"):
        keepalive_seconds({"HTTP_KEEPALIVE_SECONDS": "0"})


def test_defaults_for_port_and_health_path() -> None:
    env = base_env(QUEUE_URL)
    del env["APP_PORT"], env["HEALTH_PATH"]
    config = load_config(env)
    assert (config.app_port, config.health_path) == (8080, "/health")


def test_port_wins_over_app_port_and_is_validated_like_it() -> None:
    """A local runner (stackprobe's live probes) says with PORT which port stands in for the container's."""
    env = {**base_env(QUEUE_URL), "PORT": "50123"}
    assert load_config(env).app_port == 50123
    with pytest.raises(ConfigError, match="PORT=70000 is outside 1-65535"):
        load_config({**env, "PORT": "70000"})


@pytest.mark.parametrize(
    "name",
    ["MODELS_BUCKET", "UPLOADS_BUCKET", "JOBS_QUEUE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_POOL_SIZE"],
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
        ("DB_POOL_SIZE", "ten", "DB_POOL_SIZE='ten' is not an integer"),
        ("DB_POOL_SIZE", "0", "DB_POOL_SIZE=0 must be at least 1"),
        ("HTTP_KEEPALIVE_SECONDS", "-5", "HTTP_KEEPALIVE_SECONDS=-5 must be at least 1"),
    ],
)
def test_malformed_values_are_rejected(name: str, value: str, message: str) -> None:
    env = base_env(QUEUE_URL)
    env[name] = value
    with pytest.raises(ConfigError, match=message):
        load_config(env)


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
        ("modelserve.api", "modelserve:", "DB_USER"),
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
