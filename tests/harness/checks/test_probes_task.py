"""A whole task run locally, and what its evidence is made of, without an emulator or Docker.

A launch reads nothing from the emulator for a container without secrets or environment files, so these
tests build task definitions as dictionaries and launches with a backend whose endpoint nothing answers:
the settings (`stand-in:`), the dependsOn order and its errors, the ports and address rewriting a task's
containers share, the start of a task in that order, the crash text, and the cleaning of what commands print.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from stackprobe.aws.workloads import Workload
from stackprobe.backends.base import AwsBackend
from stackprobe.probes import health
from stackprobe.probes.addresses import AddressMap, Served
from stackprobe.probes.app import TaskLaunch
from stackprobe.probes.containers import ContainerCommand, ContainerConfigError, StandIns
from stackprobe.probes.health import run_container_check
from stackprobe.probes.local import LocalProcess
from stackprobe.probes.output import clean_lines, last_lines
from stackprobe.probes.process import AppStartError, free_port
from stackprobe.probes.servers import command_family, evident_mismatch, image_family
from stackprobe.probes.task import TaskDefinitionError, TaskRun, start_order, task_ports

pytestmark = pytest.mark.harness

APPS = Path(__file__).parent / "task_apps"
BACKEND = AwsBackend(name="moto", endpoint="http://127.0.0.1:9", region="eu-west-1", account_id="123456789012")
CURL_NOISE = (
    "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
    "                                 Dload  Upload   Total   Spent    Left  Speed\n"
    "\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0"
    "\r100    12  100    12    0     0   2400      0 --:--:-- --:--:-- --:--:--  2400\n"
    "curl: (22) The requested URL returned error: 404\n"
)


def _container(name: str, *, ports: tuple[int, ...] = (), **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": f"example/{name}:1", "essential": True}
    if ports:
        container["portMappings"] = [{"containerPort": port} for port in ports]
    container.update(extra)
    return container


def _definition(*containers: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/sp-task:1",
        "containerDefinitions": list(containers),
    }


def _depends(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"containerName": name, "condition": condition} for name, condition in pairs]


# -- settings ------------------------------------------------------------------------------------------------


def test_a_command_or_an_image_can_be_marked_as_a_stand_in() -> None:
    command = ContainerCommand.parse("gateway", "stand-in: python fake_gateway.py --port {port}")
    assert command == ContainerCommand("gateway", command="python fake_gateway.py --port {port}", stand_in=True)
    assert command.setting == "gateway=stand-in:python fake_gateway.py --port {port}"
    image = ContainerCommand.parse("gateway", "stand-in:docker:example/fake:1")
    assert image.uses_docker and image.stand_in and image.setting == "gateway=stand-in:docker:example/fake:1"
    assert not ContainerCommand.parse("gateway", "python gateway.py").stand_in
    with pytest.raises(ContainerConfigError, match="'gateway=stand-in:' has no command"):
        ContainerCommand.parse("gateway", "stand-in:")


@pytest.mark.parametrize(
    ("image", "family"),
    [
        ("golang:1.22", "Go"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/gateway-go:1.4", "Go"),
        ("public.ecr.aws/docker/library/python:3.12-slim", "Python"),
        ("node:20-alpine", "Node.js"),
        ("nginx", "nginx"),
        ("eclipse-temurin:21-jre", "Java"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/sp-test/modelserve:1.0.0", None),
        ("ghcr.io/go-team/api:1", None),  # the organisation names a company, not a server
    ],
)
def test_the_server_an_image_names(image: str, family: str | None) -> None:
    assert image_family(image) == family


@pytest.mark.parametrize(
    ("argv", "family"),
    [
        (["python", "-m", "app"], "Python"),
        (["python3.12", "app.py"], "Python"),
        (["uvicorn", "main:app"], "Python"),
        (["PORT=1", "exec", "gunicorn", "app"], "Python"),
        (["/usr/local/bin/node", "server.js"], "Node.js"),
        (["sh", "-c", "exec python app.py"], None),
    ],
)
def test_the_server_a_command_starts(argv: list[str], family: str | None) -> None:
    assert command_family(argv) == family


def test_an_evidently_different_server_is_named_and_an_unnamed_image_never_is() -> None:
    said = evident_mismatch("acme/gateway-go:1.4", "uvicorn fake_gateway:app")
    assert said == (
        "the task's image acme/gateway-go:1.4 is a Go server and `uvicorn fake_gateway:app` is a Python one: "
        "evidently different servers"
    )
    assert evident_mismatch("acme/gateway-go:1.4", image="nginx:1.27") is not None
    assert evident_mismatch("public.ecr.aws/docker/library/python:3.12-slim", "python3 app/web.py") is None
    assert evident_mismatch("acme/modelserve:1", "uvicorn app:main") is None


# -- dependsOn -------------------------------------------------------------------------------------------------


def test_containers_start_after_what_they_depend_on() -> None:
    containers = [
        _container("app", dependsOn=_depends(("migrate", "SUCCESS"), ("cache", "START"))),
        _container("migrate", essential=False, dependsOn=_depends(("cache", "HEALTHY"))),
        _container("cache", healthCheck={"command": ["CMD", "true"]}),
        _container("logs", essential=False),
    ]
    assert start_order(containers) == ["cache", "migrate", "app", "logs"]


def test_a_depends_on_cycle_is_an_error_that_names_the_cycle() -> None:
    containers = [
        _container("app", dependsOn=_depends(("proxy", "START"))),
        _container("proxy", dependsOn=_depends(("auth", "HEALTHY"))),
        _container("auth", healthCheck={"command": ["CMD", "true"]}, dependsOn=_depends(("proxy", "START"))),
    ]
    with pytest.raises(TaskDefinitionError, match="the containers' dependsOn form a cycle: proxy → auth → proxy"):
        start_order(containers)


@pytest.mark.parametrize(
    ("dependency", "message"),
    [
        (("ghost", "START"), "container app dependsOn ghost, which the task lacks"),
        (("cache", "HEALTHY"), "container app waits for cache to be HEALTHY, which has no healthCheck"),
        (("cache", "RUNNING"), "with condition RUNNING, not one of START, COMPLETE, SUCCESS, HEALTHY"),
    ],
)
def test_a_dependency_ecs_would_refuse_is_named(dependency: tuple[str, str], message: str) -> None:
    with pytest.raises(TaskDefinitionError, match=message):
        start_order([_container("app", dependsOn=_depends(dependency)), _container("cache")])


# -- ports and addresses shared by the task ---------------------------------------------------------------------


def _sidecar_task() -> dict[str, Any]:
    environment = [
        {"name": "SIDECAR_URL", "value": "http://localhost:6379/ping"},
        {"name": "CACHE", "value": "127.0.0.1:6379"},
        {"name": "DATABASE_URL", "value": "postgres://app@mydb.abc123.eu-west-1.rds.amazonaws.com:5432/app"},
        {"name": "NOT_AN_ADDRESS", "value": "6379"},
    ]
    web = _container("web", ports=(8080,), environment=environment)
    return _definition(web, _container("cache", ports=(6379,)))


def test_a_sibling_is_reached_at_the_address_the_task_definition_gives() -> None:
    definition = _sidecar_task()
    chosen = itertools.count(41000)
    ports = task_ports(definition["containerDefinitions"], {"web": 8080}, lambda: next(chosen))
    assert ports == {8080: ("web", 41000), 6379: ("cache", 41001)}
    how = ContainerCommand("web", command="python web.py --port {port} --cache {port:6379}")
    launch = TaskLaunch.build(BACKEND, definition, how, run_dir=APPS, ports=ports, traffic_port=8080)
    assert launch.argv == ("python", "web.py", "--port", "41000", "--cache", "41001")
    assert (launch.env["PORT"], launch.env["PORT_8080"], launch.env["PORT_6379"]) == ("41000", "41000", "41001")
    assert launch.env["SIDECAR_URL"] == "http://127.0.0.1:41001/ping"
    assert launch.env["CACHE"] == "127.0.0.1:41001"
    assert launch.env["NOT_AN_ADDRESS"] == "6379"  # a bare number is not an address
    # What the container would see on AWS stays as declared; only the process's environment is rewritten.
    assert launch.task_env["SIDECAR_URL"] == "http://localhost:6379/ping"
    described = launch.describe()
    assert "SIDECAR_URL: localhost:6379 → 127.0.0.1:41001 (container cache's port 6379)" in described
    assert "PORT_6379=41001 stands in for container port 6379 of container cache" in described


def test_an_address_map_is_where_local_data_stores_plug_in() -> None:
    """The data-store work adds entries for emulated endpoints; the launch rewrites them like the loopback ones."""
    definition = _sidecar_task()
    ports = task_ports(definition["containerDefinitions"], {}, free_port)
    database = AddressMap(
        {("mydb.abc123.eu-west-1.rds.amazonaws.com", 5432): Served("127.0.0.1", 55432, "a local PostgreSQL 16")}
    )
    how = ContainerCommand("web", command="python web.py")
    launch = TaskLaunch.build(
        BACKEND, definition, how, run_dir=APPS, ports=ports, addresses=AddressMap.loopback(ports).merged(database)
    )
    assert launch.env["DATABASE_URL"] == "postgres://app@127.0.0.1:55432/app"
    assert launch.env["SIDECAR_URL"] == f"http://127.0.0.1:{ports[6379][1]}/ping"
    assert "DATABASE_URL: mydb.abc123.eu-west-1.rds.amazonaws.com:5432 → 127.0.0.1:55432 (a local PostgreSQL 16)" in (
        launch.describe()
    )


def test_a_service_task_takes_the_data_store_addresses_it_is_given() -> None:
    service = {"serviceName": "web", "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/c/web"}
    workload = Workload("c", service, _sidecar_task())
    stand_ins = StandIns({"web": ContainerCommand("web", command="python web.py")}, APPS)
    database = AddressMap({("mydb.abc123.eu-west-1.rds.amazonaws.com", 5432): Served("127.0.0.1", 55432, "PostgreSQL")})
    task = TaskRun.for_service(BACKEND, workload, stand_ins, traffic_ports={"web": 8080}, addresses=database)
    web = task.states["web"].launch
    assert web is not None and task.states["cache"].launch is None  # only what is configured runs
    assert web.env["DATABASE_URL"] == "postgres://app@127.0.0.1:55432/app"
    assert web.env["SIDECAR_URL"] == f"http://127.0.0.1:{task.to_local(6379)}/ping"


def test_evidence_names_what_was_measured_and_for_which_container() -> None:
    definition = _definition(_container("gateway", ports=(8080,), image="acme/gateway-go:1.4"))
    ports = task_ports(definition["containerDefinitions"], {}, free_port)
    marked = ContainerCommand.parse("gateway", "stand-in:python web.py")
    launch = TaskLaunch.build(BACKEND, definition, marked, run_dir=APPS, ports=ports)
    assert launch.describe().startswith(
        f"sp-task:1 container gateway (image acme/gateway-go:1.4) measured as `python web.py` run from {APPS}, "
        "a stand-in: gateway=stand-in:python web.py is marked as a stand-in (PORT="
    )
    uvicorn = ContainerCommand("gateway", command="uvicorn fake:app")
    unmarked = TaskLaunch.build(BACKEND, definition, uvicorn, run_dir=APPS, ports=ports)
    assert unmarked.stand_in_reason is not None and "evidently different servers" in unmarked.describe()


# -- a task started in order ---------------------------------------------------------------------------------------


def _run(definition: dict[str, Any], commands: dict[str, str]) -> TaskRun:
    ports = task_ports(definition["containerDefinitions"], {}, free_port)
    launches = {
        name: TaskLaunch.build(BACKEND, definition, ContainerCommand(name, command=command), run_dir=APPS, ports=ports)
        for name, command in commands.items()
    }
    return TaskRun(definition, launches, ports, start_timeouts=dict.fromkeys(commands, 10.0))


def test_a_task_starts_in_order_and_a_failed_success_dependency_stops_what_waits_for_it() -> None:
    definition = _definition(
        _container("web", ports=(8080,), dependsOn=_depends(("migrate", "SUCCESS"), ("cache", "START"))),
        _container("migrate", essential=False),
        _container("cache", ports=(6379,)),
    )
    failing = f"{sys.executable} -c \"print('migration 7 failed'); raise SystemExit(4)\""
    with _run(definition, {"web": "python sidecar.py", "migrate": failing, "cache": "python sidecar.py"}) as task:
        assert task.order == ["migrate", "cache", "web"]
        assert task.states["cache"].running
        web = task.states["web"]
        assert web.process is None
        assert web.not_started == "its dependency migrate (SUCCESS) ended with exit code 4: migration 7 failed"
        assert task.stopped_essential() is web


def test_a_healthy_dependency_is_waited_for_with_its_health_check(tmp_path: Path) -> None:
    heartbeat = [{"name": "HEARTBEAT_FILE", "value": str(tmp_path / "beat")}]
    check = {"command": ["CMD", "python", "worker.py", "--check"], "startPeriod": 5, "retries": 1}
    definition = _definition(
        _container("web", ports=(8080,), dependsOn=_depends(("worker", "HEALTHY"))),
        _container("worker", environment=heartbeat, healthCheck=check),
    )
    with _run(definition, {"web": "python sidecar.py", "worker": "python worker.py"}) as task:
        assert task.states["web"].running
        assert task.states["web"].notes[0].startswith("started after worker was HEALTHY (container healthCheck")
        assert task.states["worker"].health is not None and task.states["worker"].health.passed


# -- what a crash and a health check say ----------------------------------------------------------------------------


def test_a_crash_before_listening_names_the_exit_code_the_output_and_the_variables_not_their_values(
    tmp_path: Path,
) -> None:
    env = {"PATH": "/usr/bin:/bin", "API_TOKEN": "hunter2", "PORT": "1"}
    script = "printf '\\033[31mERROR\\033[0m config: API_URL is not set\\n' >&2; exit 3"
    process = LocalProcess(["sh", "-c", script], env, cwd=tmp_path, name="api", listen_port=free_port())
    with pytest.raises(AppStartError) as caught:
        process.start()
    evidence = caught.value.evidence()
    assert "api crashed before it listened on 127.0.0.1:" in evidence
    assert "(exit code 3); last output: ERROR config: API_URL is not set; remedy: run `sh -c " in evidence
    assert f"from {tmp_path} with the variables it was given (API_TOKEN, PATH, PORT)" in evidence
    assert "hunter2" not in evidence and "\x1b" not in evidence


def test_terminal_noise_is_stripped_from_what_a_command_printed() -> None:
    noisy = CURL_NOISE + "\x1b[32mINFO\x1b[0m:     Started server process\r\n\x1b]0;title\x07done\n"
    assert clean_lines(noisy) == [
        "curl: (22) The requested URL returned error: 404",
        "INFO:     Started server process",
        "done",
    ]
    assert last_lines(noisy, 1) == "done"


def test_a_container_health_check_keeps_what_curl_said_not_its_progress_meter() -> None:
    check = {"command": ["CMD-SHELL", "curl -f http://localhost:8080/healthz || exit 1"], "retries": 1}
    result = run_container_check(check, lambda port: 50001, lambda argv, timeout: (22, CURL_NOISE), pause=0)
    assert result.describe() == (
        "container healthCheck `curl -f http://localhost:8080/healthz || exit 1` → exit 22 after 1 try: "
        "curl: (22) The requested URL returned error: 404"
    )


def test_failures_within_the_start_period_do_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "START_PERIOD_PAUSE_SECONDS", 0.05)
    answers = iter([(1, "starting"), (1, "starting"), (0, "")])
    check = {"command": ["CMD", "check"], "retries": 1}
    result = run_container_check(check, lambda port: port, lambda argv, timeout: next(answers), start_period=5.0)
    assert result.passed and result.tries == 3 and result.uncounted == 2
    assert "→ exit 0 after 3 tries (2 within the startPeriod, not counted)" in result.describe()
    failing = run_container_check(check, lambda port: port, lambda argv, timeout: (1, "no"), pause=0)
    assert not failing.passed and failing.tries == 1 and failing.uncounted == 0


def test_a_container_is_stopped_as_ecs_stops_it_sigterm_then_its_stop_timeout(tmp_path: Path) -> None:
    """A worker told to stop finishes what it holds (an SQS long poll of up to 20 s, in the reference app) before
    it exits; killed sooner, its receive stays open on the emulator and takes the next probe's message."""
    handling, finished = tmp_path / "handling", tmp_path / "finished"
    worker = (
        "import pathlib, signal, sys, time; "
        "done = lambda *_: (time.sleep(7), pathlib.Path(sys.argv[2]).write_text('x'), sys.exit(0)); "
        "signal.signal(signal.SIGTERM, done); "
        "pathlib.Path(sys.argv[1]).write_text('x'); time.sleep(60)"
    )
    definition = _definition(_container("worker", stopTimeout=20))
    command = ContainerCommand("worker", command=f'{sys.executable} -c "{worker}" {handling} {finished}')
    launch = TaskLaunch.build(BACKEND, definition, command, run_dir=APPS, ports={})
    # Entering the block starts the process (a second start() spawned a second worker, which a loaded machine
    # signalled before it installed its handler: the test then failed in about a second, and the first worker,
    # never stopped, outlived it).
    with launch.process() as process:
        deadline = time.monotonic() + 10
        while not handling.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handling.exists(), "the worker never installed its SIGTERM handler"
    assert process.returncode == 0 and finished.exists(), "SIGKILL came before the container's stopTimeout"
