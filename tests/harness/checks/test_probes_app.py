"""The live probes' building blocks: a task definition turned into a local stand-in, and the health probes.

The account is built once per module (reading task definitions does not change it), so the emulator
reset and moto's lazy backend start-up are paid once. The reference app is run the way this
repository configures it (`app/`, `python -m modelserve.api`), through the same public settings as
any user's app.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from compute_builders import IMAGE, AppResources, api_task_definition, app_resources, worker_task_definition

from stackprobe.backends.base import AwsBackend
from stackprobe.lifecycle.run import Run
from stackprobe.probes.app import TaskLaunch
from stackprobe.probes.containers import ContainerCommand, ContainerConfigError
from stackprobe.probes.contract import CONTRACT_FILE, ContractError, HealthCheckContract, ProbeContract, fill
from stackprobe.probes.docker import DockerSpec, ca_directories, docker_unavailable_reason
from stackprobe.probes.egress import EgressProxy
from stackprobe.probes.environment import resolve_secret
from stackprobe.probes.health import (
    AlbHealthCheck,
    Matcher,
    MatcherError,
    container_check_argv,
    localize_command,
    probe_target,
)
from stackprobe.probes.local import LocalProcess
from stackprobe.probes.process import (
    AppStartError,
    ContainerCommandError,
    ListenWait,
    PortTaken,
    free_port,
    group_members,
    wait_until_listening,
)

pytestmark = pytest.mark.harness

APP_DIR = Path(__file__).resolve().parents[3] / "app"
API = ContainerCommand("api", command="python -m modelserve.api --host 127.0.0.1")
WORKER = ContainerCommand("worker", command="python -m modelserve.worker")
HEALTH = {"HealthCheckPath": "/health", "Matcher": {"HttpCode": "200"}}


@dataclass(frozen=True)
class Account:
    backend: AwsBackend
    resources: AppResources
    api: str
    worker: str
    env_file_api: str
    broken_secret_api: str
    missing_env_api: str
    own_port_api: str


@pytest.fixture(scope="module")
def account(stacks: Run) -> Account:
    backend = stacks.reset_emulator()
    resources = app_resources(backend)
    ssm, s3 = backend.client("ssm"), backend.client("s3")
    ssm.put_parameter(Name="/sp-test/db-name", Value="from-ssm", Type="SecureString")
    param_arn = ssm.get_parameter(Name="/sp-test/db-name")["Parameter"]["ARN"]
    s3.put_object(Bucket=resources.uploads_bucket, Key="env/api.env", Body=b"# comment\nDB_PORT=6543\nEXTRA=1\n")
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
        backend, resources, family="sp-test-missing-env", environment=resources.api_environment(JOBS_QUEUE_URL=None)
    )
    own_port_api = api_task_definition(
        backend,
        resources,
        family="sp-test-own-port",
        environment=resources.api_environment(PORT="3000"),
        command=["serve"],
        container_extra={"user": "10001", "workingDirectory": "/srv", "entryPoint": ["/entry.sh"]},
    )
    return Account(
        backend,
        resources,
        api_task_definition(backend, resources),
        worker_task_definition(backend, resources),
        env_file_api,
        broken_secret_api,
        missing_env_api,
        own_port_api,
    )


def launch_of(account: Account, task_definition: str, how: ContainerCommand = API, **kwargs: object) -> TaskLaunch:
    return TaskLaunch.from_task_definition(account.backend, task_definition, how, run_dir=APP_DIR, **kwargs)  # type: ignore[arg-type]


def test_launch_builds_the_containers_environment_and_port_contract(account: Account) -> None:
    launch = launch_of(account, account.api, traffic_port=8080)
    assert launch.container_name == "api"
    assert launch.task_env["MODELS_BUCKET"] == account.resources.models_bucket
    assert json.loads(launch.task_env["DB_SECRET"])["password"] == "s3cr3t-never-printed"
    local = launch.local_port_for(8080)
    assert local is not None and local != 8080
    assert launch.port == local
    assert launch.env["PORT"] == launch.env["PORT_8080"] == str(local)
    assert launch.env["APP_PORT"] == "8080"  # the task's own value, as the container would see it
    assert launch.argv == ("python", "-m", "modelserve.api", "--host", "127.0.0.1")
    # `python` is the interpreter stackprobe runs under, as in an activated virtualenv.
    assert launch.env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert launch.env["AWS_ENDPOINT_URL"] == account.backend.endpoint
    assert launch.env["AWS_ACCESS_KEY_ID"] == account.backend.access_key
    assert "PYTHONPATH" not in launch.env
    described = launch.describe()
    assert f"sp-test-api:1 container api (image {IMAGE}) measured as `{API.command}` run from {APP_DIR} (" in described
    assert f"PORT={local} stands in for container port 8080" in described
    assert "secrets DB_SECRET" in described
    assert "s3cr3t" not in described


def test_port_placeholders_are_replaced_by_the_stand_in_ports(account: Account) -> None:
    how = ContainerCommand("api", command="server --listen 127.0.0.1:{port} --admin {port:8080}")
    launch = launch_of(account, account.api, how)
    assert launch.argv == ("server", "--listen", f"127.0.0.1:{launch.port}", "--admin", str(launch.port))
    with pytest.raises(ContainerConfigError, match=r"uses \{port:9090\}, but the container maps no port 9090"):
        launch_of(account, account.api, ContainerCommand("api", command="server {port:9090}"))
    with pytest.raises(ContainerConfigError, match=r"uses \{port\}, but the container maps no port"):
        launch_of(account, account.worker, ContainerCommand("worker", command="worker --port {port}"))


def test_a_task_that_sets_port_to_another_port_keeps_it(account: Account) -> None:
    # PORT stands in for the container port only where the task agrees with it: an app told to listen
    # on 3000 while the load balancer sends traffic to 8080 must miss it here as on AWS.
    launch = launch_of(account, account.own_port_api, traffic_port=8080)
    assert launch.env["PORT"] == "3000" and launch.port is None
    assert launch.env["PORT_8080"] == str(launch.local_port_for(8080))
    assert "PORT=3000 as the task declares it (traffic goes to container port 8080)" in launch.describe()


def test_a_name_no_task_definition_has_is_an_error(account: Account) -> None:
    with pytest.raises(ContainerConfigError, match="has no container named 'web'") as caught:
        launch_of(account, account.api, ContainerCommand("web", command="python3 web.py"))
    assert "Its containers: api" in str(caught.value)


def test_launch_resolves_json_keys_ssm_parameters_and_environment_files(account: Account) -> None:
    launch = launch_of(account, account.env_file_api)
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
    launch = launch_of(account, account.broken_secret_api)
    assert launch.secret_errors and launch.secret_errors[0].startswith("DB_SECRET ← ")
    with pytest.raises(AppStartError, match="the task would not start: ECS cannot resolve DB_SECRET"):
        launch.process()


def test_a_worker_runs_until_it_exits_by_itself(account: Account) -> None:
    launch = launch_of(account, account.worker, WORKER, overrides={"WORKER_MAX_POLLS": "1", "WORKER_WAIT_SECONDS": "0"})
    assert launch.argv == ("python", "-m", "modelserve.worker")
    assert launch.port is None and launch.ports == {} and "PORT" not in launch.env
    assert "probe settings: WORKER_MAX_POLLS=1, WORKER_WAIT_SECONDS=0" in launch.describe()
    process = launch.process()
    process.spawn()
    assert process.wait(timeout=30) == 0, process.output
    assert "polling" in process.output


def test_the_app_starts_serves_and_stops_on_sigterm(account: Account) -> None:
    launch = launch_of(account, account.api)
    assert launch.port is not None
    started = time.monotonic()
    with launch.process() as process:
        waited = time.monotonic() - started
        # Measured by the process handle, from spawn to listening: within the time the test waited for it.
        assert process.startup_seconds is not None and 0 < process.startup_seconds <= waited
        check = AlbHealthCheck.from_target_group({**HEALTH, "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2})
        outcome = probe_target(check, launch.port, pause=0.05)
        assert outcome.healthy, outcome.summary
    assert process.returncode == 0
    assert f"listening on http://127.0.0.1:{launch.port}" in process.output


def test_a_missing_variable_makes_the_app_exit_with_its_message(account: Account) -> None:
    launch = launch_of(account, account.missing_env_api)
    with pytest.raises(AppStartError) as caught:
        launch.process().start()
    assert caught.value.returncode == 2
    evidence = caught.value.evidence()
    assert "api crashed before it listened on 127.0.0.1:" in evidence and "(exit code 2)" in evidence
    assert "JOBS_QUEUE_URL" in evidence
    # The remedy is about the command and the variables it was given (names, never values), not health paths.
    remedy = evidence.split("; remedy: ", 1)[1]
    assert f"`{API.command}` (from {APP_DIR})" in remedy
    assert "MODELS_BUCKET, UPLOADS_BUCKET" in remedy and "PORT, PORT_8080" in remedy
    assert account.resources.models_bucket not in remedy and "target group" not in remedy


# -- a COMMAND that misbehaves (no emulator) ---------------------------------------------------------------


def _stand_in(command: list[str], tmp_path: Path, port: int | None = None, timeout: float = 5.0) -> LocalProcess:
    env = {"PATH": os.environ["PATH"], "PORT": str(port or ""), "PYTHONUNBUFFERED": "1"}
    return LocalProcess(command, env, cwd=tmp_path, name="web", listen_port=port, start_timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _child_pid(path: Path) -> int:
    deadline = time.monotonic() + 5
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, "the command never wrote its child's pid"
        time.sleep(0.02)
    return int(path.read_text())


def test_a_command_that_exits_reports_its_code_and_output_and_leaves_nothing(tmp_path: Path) -> None:
    # A child that would outlive its parent: stopping the stand-in must end the whole group.
    script = f"sleep 300 & echo $! > {tmp_path}/child; echo 'cannot bind' >&2; exit 3"
    process = _stand_in(["sh", "-c", script], tmp_path, free_port())
    with pytest.raises(AppStartError) as caught:
        process.start()
    assert caught.value.returncode == 3
    assert "web crashed before it listened on 127.0.0.1:" in caught.value.evidence()
    assert "(exit code 3); last output: cannot bind; remedy: run `" in caught.value.evidence()
    assert "last output: cannot bind" in caught.value.evidence()
    assert not _alive(_child_pid(tmp_path / "child"))
    assert group_members(process.pid or 0) == []


def test_a_command_that_never_listens_is_stopped_with_its_output(tmp_path: Path) -> None:
    script = f"sleep 300 & echo $! > {tmp_path}/child; echo 'listening on 9999 (not $PORT)'; exec sleep 300"
    process = _stand_in(["sh", "-c", script], tmp_path, free_port(), timeout=1.0)
    with pytest.raises(AppStartError) as caught:
        process.start()
    message = caught.value.evidence()
    assert "(PORT) within 1 s, so stackprobe stopped it (killed by SIGTERM)" in message
    assert "does COMMAND listen on $PORT or {port}?" in message
    assert "last output: listening on 9999 (not $PORT)" in message
    assert not _alive(_child_pid(tmp_path / "child"))
    assert group_members(process.pid or 0) == []


def test_a_traceback_is_the_evidence(tmp_path: Path) -> None:
    process = _stand_in([sys.executable, "-c", "import no_such_module_here"], tmp_path, free_port())
    with pytest.raises(AppStartError) as caught:
        process.start()
    assert caught.value.returncode == 1
    assert "Traceback (most recent call last):" in caught.value.output
    assert "ModuleNotFoundError: No module named 'no_such_module_here'" in caught.value.evidence()


def test_a_command_that_is_not_found_is_an_error_and_starts_nothing(tmp_path: Path) -> None:
    process = _stand_in(["pyhton3", "app/web.py"], tmp_path, free_port())
    with pytest.raises(ContainerCommandError, match="cannot start: pyhton3: not found on PATH") as caught:
        process.start()
    assert f"a relative path is taken from {tmp_path}" in str(caught.value)
    assert process.pid is None


def test_a_port_already_taken_is_an_error_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = int(squatter.getsockname()[1])
        process = _stand_in([sys.executable, "-m", "http.server", str(port)], tmp_path, port)
        with pytest.raises(PortTaken, match=f"127.0.0.1:{port}, the port container web was to listen on, is already"):
            process.start()
    assert process.pid is None


def test_stopping_ends_the_whole_process_tree(tmp_path: Path) -> None:
    port = free_port()
    script = f"sleep 300 & echo $! > {tmp_path}/child; exec {sys.executable} -m http.server {port} --bind 127.0.0.1"
    with _stand_in(["sh", "-c", script], tmp_path, port) as process:
        child = _child_pid(tmp_path / "child")
        assert _alive(child) and len(group_members(process.pid or 0)) == 2
    assert not _alive(child)
    assert group_members(process.pid or 0) == []


# -- docker:IMAGE ---------------------------------------------------------------------------------------------


def test_an_image_gets_the_task_definitions_command_environment_and_the_host_network(account: Account) -> None:
    image = ContainerCommand.parse("api", "docker:registry.example/app:1.2")
    assert image.uses_docker and image.image == "registry.example/app:1.2"
    launch = launch_of(account, account.own_port_api, image, traffic_port=8080)
    spec = DockerSpec.from_container(launch.how.image, launch.env, launch.container)
    assert spec.image == "registry.example/app:1.2"
    assert spec.create_arguments() == {
        "network": "host",  # the emulator listens on the host's loopback only
        "command": ["serve"],
        "entrypoint": ["/entry.sh"],
        "working_dir": "/srv",
        "user": "10001",
    }
    assert spec.environment["AWS_ENDPOINT_URL"] == account.backend.endpoint
    assert spec.environment["PORT_8080"] == str(launch.local_port_for(8080))
    assert spec.environment["MODELS_BUCKET"] == account.resources.models_bucket
    # The image's own PATH and HOME, not this machine's.
    assert "PATH" not in spec.environment and "HOME" not in spec.environment
    assert "measured as image registry.example/app:1.2 (docker, host network)" in launch.describe()


def test_an_image_sees_the_guards_ca_bundle_at_the_path_its_variables_name() -> None:
    with EgressProxy("http://127.0.0.1:1") as guard:
        variables = guard.start()
        bundle = Path(variables["SSL_CERT_FILE"])
        # Every CA variable names one bundle, so one read-only mount serves them all.
        assert ca_directories({**variables, "UNRELATED": "/etc/x/y"}) == [str(bundle.parent)]
        assert bundle.is_file()
    assert ca_directories({"PORT": "8080"}) == []


def test_an_image_runs_where_a_docker_engine_answers(account: Account) -> None:
    reason = docker_unavailable_reason()
    if reason is not None:
        pytest.skip(f"docker:IMAGE needs a Docker engine: {reason}")
    resources = account.resources
    served = api_task_definition(
        account.backend,
        resources,
        family="sp-test-docker",
        command=["sh", "-c", 'exec python -m http.server "$PORT" --bind 127.0.0.1'],
        health_check={"command": ["CMD-SHELL", "wget -q -O /dev/null http://localhost:8080/ || exit 1"]},
    )
    launch = launch_of(account, served, ContainerCommand.parse("api", "docker:python:3.12-alpine"), traffic_port=8080)
    assert launch.port is not None
    with launch.process(start_timeout=120) as running:
        check = AlbHealthCheck.from_target_group({**HEALTH, "HealthCheckPath": "/", "HealthyThresholdCount": 2})
        assert probe_target(check, launch.port, pause=0.05).healthy
        result = running.container_check(launch.container["healthCheck"], lambda port: launch.ports[port])
        assert result.passed, result.describe()
    # Stopped as ECS stops it (docker stop: SIGTERM, SIGKILL after the 30 s default); python as PID 1 has no
    # SIGTERM handler, which the kernel then does not deliver: the record says whether it came to SIGKILL.
    record = running.stop_record
    assert record is not None and record.stop_timeout == 30.0
    assert record.killed == (record.returncode == 137), record.describe()


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
    check = AlbHealthCheck.from_target_group({**HEALTH, "HealthyThresholdCount": 3, "UnhealthyThresholdCount": 2})
    outcome = probe_target(check, free_port(), pause=0.01)
    assert not outcome.healthy and len(outcome.attempts) == 2
    assert "no answer (ConnectionRefusedError" in outcome.summary


def test_container_commands_are_localised() -> None:
    ports = {8080: 50001}.__getitem__
    # Run as written: `python` is found on the stand-in's PATH.
    assert container_check_argv(["CMD", "python", "-m", "modelserve.healthcheck"], ports) == [
        "python",
        "-m",
        "modelserve.healthcheck",
    ]
    assert container_check_argv(["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"], ports) == [
        "/bin/sh",
        "-c",
        "curl -f http://127.0.0.1:50001/health || exit 1",
    ]
    assert localize_command("wget -qO- http://127.0.0.1:8080/", ports) == "wget -qO- http://127.0.0.1:50001/"


# -- configuration: container settings and the app's contract (no emulator) --------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "The container setting 'web=' has no command. Remedy: write it as web=COMMAND"),
        ("docker:", "The container setting 'web=docker:' names no image"),
        ("python3 'app/web.py", "The command of container web cannot be split into words (No closing quotation)"),
    ],
)
def test_a_container_setting_that_cannot_be_used_says_how_to_write_it(value: str, message: str) -> None:
    with pytest.raises(ContainerConfigError) as caught:
        ContainerCommand.parse("web", value)
    assert message in str(caught.value)


def test_the_reference_apps_contract_is_read_from_its_app_directory() -> None:
    contract = ProbeContract.load(APP_DIR)
    assert contract.source == APP_DIR / CONTRACT_FILE
    assert contract.health_check == HealthCheckContract("APP_PORT", "HEALTH_PATH")
    assert contract.upload is not None and str(contract.upload.route) == "GET /upload-url?filename={filename}"
    assert contract.upload.route.render(filename="a.png") == "/upload-url?filename=a.png"
    assert contract.jobs is not None and contract.jobs.accepted_status == 202
    assert fill(contract.jobs.submit_json, {"input_key": "uploads/x"}) == {
        "image_key": "uploads/x",
        "model": "stackprobe-probe",
    }
    assert [(a.variable, a.access, a.containers, a.prefix) for a in contract.task_access] == [
        ("MODELS_BUCKET", "read", (), "models/"),
        ("UPLOADS_BUCKET", "write", ("api",), "uploads/"),
        ("JOBS_QUEUE_URL", "queue", (), ""),
    ]
    assert ProbeContract.load(APP_DIR.parent / "terraform") == ProbeContract()  # none: every section absent


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("presigned_upload: {container: api, route: /upload-url}", "presigned_upload.route must be 'METHOD /path'"),
        ("presigned_upload: {container: api, route: GET /u, bucket: B}", "unknown key presigned_upload.bucket"),
        ("task_access: {MODELS_BUCKET: readwrite}", "task_access.MODELS_BUCKET must be one of read, write, queue"),
        ("jobs: {api_container: api}", "jobs needs presigned_upload, the route its input is uploaded through"),
        ("presigned_upload: [api", "is not valid YAML"),
    ],
)
def test_a_malformed_contract_names_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / CONTRACT_FILE).write_text(text + "\n")
    with pytest.raises(ContractError) as caught:
        ProbeContract.load(tmp_path)
    assert str(tmp_path / CONTRACT_FILE) in str(caught.value)
    assert message in str(caught.value)


def test_waiting_for_a_listener_tells_listening_exited_and_timed_out_apart() -> None:
    """What both stand-ins (a local COMMAND, a docker:IMAGE) wait on, without starting either."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        listening = wait_until_listening(port, 5.0, lambda: False, 0.01)
        assert listening.seconds is not None and not listening.exited
        # An ended process wins over a port something else answers on: it is not the stand-in listening.
        assert wait_until_listening(port, 5.0, lambda: True, 0.01) == ListenWait(None, exited=True)
    silent = free_port()
    assert wait_until_listening(silent, 0.3, lambda: False, 0.01) == ListenWait(None, exited=False)
