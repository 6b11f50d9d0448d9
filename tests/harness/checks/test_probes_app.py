"""The live probes' building blocks: a task definition turned into a local process, and the health probes.

The account is built once per module (reading task definitions does not change it), so the emulator
reset and moto's lazy backend start-up are paid once.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from compute_builders import AppResources, api_task_definition, app_resources, worker_task_definition

from stackprobe.backends.base import AwsBackend
from stackprobe.probes.app import AppStartError, TaskLaunch, free_port, resolve_secret
from stackprobe.probes.health import (
    AlbHealthCheck,
    Matcher,
    MatcherError,
    container_check_argv,
    localize_command,
    probe_target,
)
from stackprobe.session import StackSession

pytestmark = pytest.mark.harness


@dataclass(frozen=True)
class Account:
    backend: AwsBackend
    resources: AppResources
    api: str
    worker: str
    env_file_api: str
    broken_secret_api: str
    missing_env_api: str


@pytest.fixture(scope="module")
def account(stacks: StackSession) -> Account:
    backend = stacks.reset_emulator()
    resources = app_resources(backend)
    ssm, s3 = backend.client("ssm"), backend.client("s3")
    ssm.put_parameter(Name="/sp-test/db-name", Value="from-ssm", Type="SecureString")
    param_arn = ssm.get_parameter(Name="/sp-test/db-name")["Parameter"]["ARN"]
    s3.put_object(Bucket=resources.uploads_bucket, Key="env/api.env", Body=b"# comment\nDB_PORT=6543\nEXTRA=1\n")
    api = api_task_definition(backend, resources)
    env_file_api = api_task_definition(
        backend,
        resources,
        family="sp-test-env-file",
        environment=resources.api_environment(DB_NAME=None, DB_PORT=None),
        secrets=[
            {"name": "DB_SECRET", "valueFrom": resources.secret_arn},
            {"name": "DB_USER", "valueFrom": f"{resources.secret_arn}:username::"},
            {"name": "DB_NAME", "valueFrom": param_arn},
        ],
        container_extra={
            "environmentFiles": [{"value": f"arn:aws:s3:::{resources.uploads_bucket}/env/api.env", "type": "s3"}]
        },
    )
    broken_secret_api = api_task_definition(
        backend,
        resources,
        family="sp-test-broken-secret",
        secrets=[{"name": "DB_SECRET", "valueFrom": resources.secret_arn.replace("db-master", "nope")}],
    )
    missing_env_api = api_task_definition(
        backend,
        resources,
        family="sp-test-missing-env",
        environment=resources.api_environment(JOBS_QUEUE_URL=None),
    )
    return Account(
        backend,
        resources,
        api,
        worker_task_definition(backend, resources),
        env_file_api,
        broken_secret_api,
        missing_env_api,
    )


def test_launch_builds_the_containers_environment_and_port_mapping(account: Account) -> None:
    launch = TaskLaunch.from_task_definition(account.backend, account.api)
    assert launch.container_name == "api"
    assert launch.task_env["MODELS_BUCKET"] == account.resources.models_bucket
    assert json.loads(launch.task_env["DB_SECRET"])["password"] == "s3cr3t-never-printed"
    local = launch.local_port_for(8080)
    assert local is not None and local != 8080
    assert launch.listen_port == local
    assert launch.env["APP_PORT"] == str(local)
    assert launch.argv == (sys.executable, "-m", "modelserve.api", "--host", "127.0.0.1", "--port", str(local))
    # Pinned to the emulator; PYTHONPATH is the app directory.
    assert launch.env["AWS_ENDPOINT_URL"] == account.backend.endpoint
    assert launch.env["AWS_ACCESS_KEY_ID"] == account.backend.access_key
    assert launch.env["PYTHONPATH"].endswith("/app")
    described = launch.describe()
    assert "sp-test-api:1 container api" in described
    assert "no command: the image default (gunicorn) runs as python -m modelserve.api" in described
    assert f"container port 8080 → 127.0.0.1:{local}" in described
    assert "secrets DB_SECRET" in described
    assert "s3cr3t" not in described


def test_launch_resolves_json_keys_ssm_parameters_and_environment_files(account: Account) -> None:
    launch = TaskLaunch.from_task_definition(account.backend, account.env_file_api)
    assert launch.task_env["DB_USER"] == "app"
    assert launch.task_env["DB_NAME"] == "from-ssm"
    assert launch.task_env["DB_PORT"] == "6543"
    assert launch.task_env["EXTRA"] == "1"
    assert launch.secret_errors == ()


def test_resolve_secret_reports_what_ecs_could_not_fetch(account: Account) -> None:
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        resolve_secret(account.backend, account.resources.secret_arn.replace("db-master", "nope"))
    with pytest.raises(Exception, match="has no JSON key 'nope'"):
        resolve_secret(account.backend, f"{account.resources.secret_arn}:nope::")


def test_an_unresolvable_secret_stops_the_task_before_the_app_runs(account: Account) -> None:
    launch = TaskLaunch.from_task_definition(account.backend, account.broken_secret_api)
    assert launch.secret_errors and launch.secret_errors[0].startswith("DB_SECRET ← ")
    with pytest.raises(AppStartError, match="the task would not start: ECS cannot resolve DB_SECRET"):
        launch.process()


def test_worker_command_runs_with_this_interpreter(account: Account) -> None:
    launch = TaskLaunch.from_task_definition(
        account.backend, account.worker, overrides={"WORKER_MAX_POLLS": "1", "WORKER_WAIT_SECONDS": "0"}
    )
    assert launch.argv == (sys.executable, "-m", "modelserve.worker")
    assert launch.listen_port is None and launch.ports == {}
    assert launch.env["WORKER_MAX_POLLS"] == "1"
    assert "probe settings: WORKER_MAX_POLLS=1, WORKER_WAIT_SECONDS=0" in launch.describe()
    process = launch.process()
    process.spawn()
    assert process.wait(timeout=30) == 0, process.output
    assert "polling" in process.output


def test_local_process_starts_serves_and_stops_on_sigterm(account: Account) -> None:
    launch = TaskLaunch.from_task_definition(account.backend, account.api)
    assert launch.listen_port is not None
    with launch.process() as process:
        assert process.startup_seconds is not None and process.startup_seconds > 0
        check = AlbHealthCheck.from_target_group(
            {
                "HealthCheckPath": "/health",
                "Matcher": {"HttpCode": "200"},
                "HealthyThresholdCount": 2,
                "UnhealthyThresholdCount": 2,
            }
        )
        outcome = probe_target(check, launch.listen_port, pause=0.05)
        assert outcome.healthy, outcome.summary
    assert process.returncode == 0
    assert f"listening on http://127.0.0.1:{launch.listen_port}" in process.output


def test_a_missing_variable_makes_the_app_exit_with_its_message(account: Account) -> None:
    launch = TaskLaunch.from_task_definition(account.backend, account.missing_env_api)
    with pytest.raises(AppStartError) as caught:
        launch.process().start()
    assert caught.value.returncode == 2
    assert "exited with code 2 at start-up" in caught.value.evidence()
    assert "JOBS_QUEUE_URL" in caught.value.evidence()


# -- health probe pieces (no emulator) -----------------------------------------------------------------


def test_matcher_semantics() -> None:
    assert Matcher.parse("200").accepts(200) and not Matcher.parse("200").accepts(204)
    assert Matcher.parse("200-299").accepts(204) and not Matcher.parse("200-299").accepts(302)
    both = Matcher.parse("200,302")
    assert both.accepts(302) and both.accepts(200) and not both.accepts(301)
    with pytest.raises(MatcherError):
        Matcher.parse("0-99")  # gRPC codes are out of scope
    with pytest.raises(MatcherError):
        AlbHealthCheck.from_target_group({"Matcher": {"GrpcCode": "12"}})


class _Redirecting(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302 if self.path == "/health" else 404)
        self.send_header("Location", "/login")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def redirecting_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_probe_does_not_follow_redirects(redirecting_server: int) -> None:
    group = {"HealthCheckPath": "/health", "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}
    strict = AlbHealthCheck.from_target_group({**group, "Matcher": {"HttpCode": "200"}})
    outcome = probe_target(strict, redirecting_server, pause=0.01)
    assert not outcome.healthy
    assert "[302 → Location /login (not followed), 302 → Location /login (not followed)] vs matcher 200" in (
        outcome.summary
    )
    lenient = AlbHealthCheck.from_target_group({**group, "Matcher": {"HttpCode": "200,302"}})
    assert probe_target(lenient, redirecting_server, pause=0.01).healthy


def test_probe_reports_a_refused_connection() -> None:
    check = AlbHealthCheck.from_target_group(
        {
            "HealthCheckPath": "/health",
            "Matcher": {"HttpCode": "200"},
            "HealthyThresholdCount": 3,
            "UnhealthyThresholdCount": 2,
        }
    )
    outcome = probe_target(check, free_port(), pause=0.01)
    assert not outcome.healthy and len(outcome.attempts) == 2
    assert "no answer (ConnectionRefusedError" in outcome.summary


def test_container_commands_are_localised() -> None:
    ports = {8080: 50001}.__getitem__
    assert container_check_argv(["CMD", "python", "-m", "modelserve.healthcheck"], ports) == [
        sys.executable,
        "-m",
        "modelserve.healthcheck",
    ]
    assert container_check_argv(["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"], ports) == [
        "/bin/sh",
        "-c",
        "curl -f http://127.0.0.1:50001/health || exit 1",
    ]
    assert localize_command("wget -qO- http://127.0.0.1:8080/", ports) == "wget -qO- http://127.0.0.1:50001/"
