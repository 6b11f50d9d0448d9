"""The LocalStack backend: which of the three sources is chosen, the handle's lifecycle, and real host mode.

Mode selection is tested against fake health endpoints on loopback, with Docker and host mode replaced
by stand-ins. The host-mode tests start the real LocalStack runtime (the first run installs its venv
into the stackprobe cache, which takes minutes; later runs reuse it). Docker tests skip, saying what
was tried, where no Docker engine answers.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends import localstack as ls
from stackprobe.backends import localstack_host, tool_venv
from stackprobe.backends.base import EmulatorRequest
from stackprobe.backends.capabilities import detect
from stackprobe.backends.guard import check_caller_identity, check_pinned, pinned_environ
from stackprobe.backends.localstack_host import HostRuntime, find_python313, listening_sockets
from stackprobe.errors import BackendError, RealAwsRefused
from stackprobe.settings import default_cache_dir

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]
HEALTH = {
    "services": {"s3": "available", "sqs": "running", "sts": "available", "iam": "available"},
    "edition": "community",
    "version": "2026.3.0",
}
INFO = {"edition": "community", "version": "2026.3.0", "is_license_activated": False}


class FakeLocalStack:
    """Loopback HTTP server: canned JSON for GET, a fixed status for POST (the state reset)."""

    def __init__(self, reset_status: int = 200) -> None:
        owner = self
        self.posts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                routes = {"/_localstack/health": HEALTH, "/_localstack/info": INFO}
                self._answer(200, routes[self.path]) if self.path in routes else self._answer(404, {})

            def do_POST(self) -> None:
                owner.posts.append(self.path)
                self._answer(reset_status, {})

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeLocalStack]:
    server = FakeLocalStack()
    yield server
    server.close()


def closed_port() -> int:
    """A loopback port nobody listens on (bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StandInRunner:
    """Stands in for a container or a host process: it points at a fake LocalStack."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.restarts = 0
        self.stopped = False

    def alive(self, timeout: float) -> bool:
        return not self.stopped

    def restart(self) -> None:
        self.restarts += 1

    def stop(self) -> None:
        self.stopped = True

    def log_tail(self, lines: int) -> str:
        return "stand-in log"

    def pristine(self) -> bool:
        return False


def request(work_dir: Path, endpoint: str | None = None) -> EmulatorRequest:
    return EmulatorRequest(region="eu-west-1", work_dir=work_dir, cache_dir=default_cache_dir(), endpoint=endpoint)


# -- choosing the source -------------------------------------------------------------------------


def test_explicit_endpoint_that_answers_is_used_and_never_stopped(fake: FakeLocalStack, tmp_path: Path) -> None:
    handle = ls.start_localstack(request(tmp_path, fake.url), environ={})
    assert handle.mode == "external"
    backend = handle.backend
    assert (backend.name, backend.endpoint, backend.account_id) == ("localstack", fake.url, "000000000000")
    assert backend.services == frozenset({"s3", "sqs", "sts", "iam"})
    assert backend.unavailable_reason("ecs") == (
        f"localstack at {fake.url} does not serve `ecs`: ecs is a paid-tier LocalStack service: set "
        "LOCALSTACK_AUTH_TOKEN and use the Pro image, or use the embedded moto backend"
    )
    assert backend.unavailable_reason("s3") is None
    handle.stop()
    assert handle.alive(), "stop() must leave an external LocalStack running"


def test_aws_endpoint_url_comes_before_localstack_host(fake: FakeLocalStack, tmp_path: Path) -> None:
    other = FakeLocalStack()
    try:
        environ = {"AWS_ENDPOINT_URL": fake.url, "LOCALSTACK_HOST": f"127.0.0.1:{other.port}"}
        handle = ls.start_localstack(request(tmp_path), environ=environ)
    finally:
        other.close()
    assert (handle.mode, handle.endpoint) == ("external", fake.url)


def test_localstack_host_is_resolved_the_localstack_client_way(fake: FakeLocalStack, tmp_path: Path) -> None:
    environ = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}", "LOCALSTACK_HOST": f"127.0.0.1:{fake.port}"}
    handle = ls.start_localstack(request(tmp_path), environ=environ)
    assert (handle.mode, handle.endpoint) == ("external", fake.url)
    assert any("AWS_ENDPOINT_URL" in a and "no LocalStack health endpoint answers" in a for a in handle.attempts)


def test_legacy_edge_port_and_the_library_default() -> None:
    assert ls.external_candidates(None, {"EDGE_PORT": "4599"}) == [("http://localhost:4599", "EDGE_PORT")]
    assert ls.external_candidates(None, {}) == [("http://localhost:4566", "localstack_client's default")]
    assert ls.external_candidates(None, {"LOCALSTACK_HOST": "127.0.0.1", "USE_SSL": "1"}) == [
        ("https://127.0.0.1:4566", "LOCALSTACK_HOST")
    ]
    # --stackprobe-endpoint wins alone: the environment is not consulted at all.
    assert ls.external_candidates("http://127.0.0.1:5/", {"AWS_ENDPOINT_URL": "x"}) == [
        ("http://127.0.0.1:5", "--stackprobe-endpoint")
    ]


def test_explicit_endpoint_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(BackendError) as error:
        ls.start_localstack(request(tmp_path, url), environ={})
    assert f"No LocalStack answers at --stackprobe-endpoint {url}" in str(error.value)
    assert "Remedy:" in str(error.value)


def test_explicit_non_loopback_endpoint_is_refused_without_contact(tmp_path: Path) -> None:
    with pytest.raises(RealAwsRefused) as error:
        ls.start_localstack(request(tmp_path, "http://192.0.2.10:4566"), environ={})
    assert "not a loopback address" in str(error.value)


def test_non_loopback_environment_endpoint_is_skipped(fake: FakeLocalStack, tmp_path: Path) -> None:
    environ = {"AWS_ENDPOINT_URL": "http://192.0.2.10:4566", "LOCALSTACK_HOST": f"127.0.0.1:{fake.port}"}
    handle = ls.start_localstack(request(tmp_path), environ=environ)
    assert handle.endpoint == fake.url
    assert "AWS_ENDPOINT_URL http://192.0.2.10:4566: not a loopback address, not contacted" in handle.attempts


def test_no_external_and_no_docker_means_host_mode(
    fake: FakeLocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[Path, Path]] = []

    def fake_host(cache_dir: Path, work_dir: Path) -> StandInRunner:
        started.append((cache_dir, work_dir))
        return StandInRunner(fake.url)

    monkeypatch.setattr(ls, "docker_engine", lambda: (False, "no Docker engine: docker.from_env().ping() failed: x"))
    monkeypatch.setattr(ls, "start_host", fake_host)
    run = request(tmp_path)
    handle = ls.start_localstack(run, environ={"LOCALSTACK_HOST": f"127.0.0.1:{closed_port()}"})
    assert handle.mode == "host"
    assert started == [(run.cache_dir, tmp_path)]
    assert "docker: no Docker engine: docker.from_env().ping() failed: x" in handle.attempts


def test_docker_without_a_token_passes_over_the_container(
    fake: FakeLocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ls, "docker_engine", lambda: (True, "docker.from_env().ping() answered"))
    monkeypatch.setattr(ls, "docker_publishes_on_our_loopback", lambda: (True, "local"))
    monkeypatch.setattr(ls, "start_host", lambda cache_dir, work_dir: StandInRunner(fake.url))
    monkeypatch.setattr(ls, "_Container", lambda *args: pytest.fail("no container without a token"))
    handle = ls.start_localstack(request(tmp_path), environ={"LOCALSTACK_HOST": f"127.0.0.1:{closed_port()}"})
    assert handle.mode == "host"
    assert any("LOCALSTACK_AUTH_TOKEN is not set" in attempt for attempt in handle.attempts)


def test_docker_with_a_token_uses_testcontainers(
    fake: FakeLocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[Any, ...]] = []

    def container(*args: Any) -> StandInRunner:
        made.append(args)
        return StandInRunner(fake.url)

    monkeypatch.setattr(ls, "docker_engine", lambda: (True, "docker.from_env().ping() answered"))
    monkeypatch.setattr(ls, "docker_publishes_on_our_loopback", lambda: (True, "local"))
    monkeypatch.setattr(ls, "_Container", container)
    environ = {"LOCALSTACK_HOST": f"127.0.0.1:{closed_port()}", "LOCALSTACK_AUTH_TOKEN": "ls-token"}
    handle = ls.start_localstack(request(tmp_path), environ=environ)
    assert handle.mode == "testcontainers"
    assert made == [("localstack/localstack:latest", "eu-west-1", "ls-token")]


def test_an_engine_that_publishes_elsewhere_means_host_mode(
    fake: FakeLocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ls, "docker_engine", lambda: (True, "docker.from_env().ping() answered"))
    monkeypatch.setattr(
        ls, "docker_publishes_on_our_loopback", lambda: (False, "the Docker engine is reached at 10.0.0.5")
    )
    monkeypatch.setattr(ls, "_Container", lambda *args: pytest.fail("its ports would not be on our loopback"))
    monkeypatch.setattr(ls, "start_host", lambda cache_dir, work_dir: StandInRunner(fake.url))
    environ = {"LOCALSTACK_HOST": f"127.0.0.1:{closed_port()}", "LOCALSTACK_AUTH_TOKEN": "ls-token"}
    handle = ls.start_localstack(request(tmp_path), environ=environ)
    assert handle.mode == "host"
    assert "testcontainers: passed over: the Docker engine is reached at 10.0.0.5" in handle.attempts


# -- the handle ------------------------------------------------------------------------------------


def test_reset_uses_the_state_endpoint(fake: FakeLocalStack) -> None:
    runner = StandInRunner(fake.url)
    handle = ls.LocalStackHandle("host", runner, detect(fake.url), "eu-west-1", [])
    handle.reset()
    assert fake.posts == ["/_localstack/state/reset"]
    assert runner.restarts == 0


def test_reset_is_skipped_while_the_log_shows_only_reads(fake: FakeLocalStack) -> None:
    runner = StandInRunner(fake.url)
    runner.pristine = lambda: True  # type: ignore[method-assign]
    handle = ls.LocalStackHandle("host", runner, detect(fake.url), "eu-west-1", [])
    handle.reset()
    assert fake.posts == [] and runner.restarts == 0


def test_only_reads_tells_reads_from_changes() -> None:
    line = "2026-11-23T06:04:23.293  INFO --- [   asgi_gw_0] localstack.request.aws     : AWS {} => {}"
    reads = "\n".join(line.format(op, "200") for op in ("s3.ListBuckets", "sts.GetCallerIdentity", "ec2.DescribeVpcs"))
    assert ls.only_reads(reads)
    assert ls.only_reads("LocalStack version: 2026.3.0\nReady.\n")
    assert not ls.only_reads(reads + "\n" + line.format("s3.CreateBucket", "200"))
    assert not ls.only_reads(line.format("sqs.DeleteQueue", "400 (QueueDoesNotExist)")), "failed writes count too"


def test_reset_falls_back_to_a_restart_where_the_endpoint_is_missing() -> None:
    server = FakeLocalStack(reset_status=404)  # the community runtime 2026.3.0 answers 404
    try:
        runner = StandInRunner(server.url)
        handle = ls.LocalStackHandle("host", runner, detect(server.url), "eu-west-1", [])
        handle.reset()
        assert runner.restarts == 1
        external = ls.LocalStackHandle("external", ls._External(server.url), detect(server.url), "eu-west-1", [])
        with pytest.raises(BackendError) as error:
            external.reset()
        assert "could not be reset (POST /_localstack/state/reset: HTTP 404)" in str(error.value)
    finally:
        server.close()


def test_the_handle_stands_where_the_embedded_moto_stands(fake: FakeLocalStack) -> None:
    runner = StandInRunner(fake.url)
    handle = ls.LocalStackHandle("host", runner, detect(fake.url), "eu-west-1", [])
    assert handle.request_log.render_tail(5) == "stand-in log"
    assert handle.restart() is handle.backend and runner.restarts == 1
    handle.stop()
    assert not handle.alive()


# -- Docker ----------------------------------------------------------------------------------------


def test_docker_probe_reports_what_it_tried() -> None:
    usable, why = ls.docker_engine(timeout=2)
    if usable:
        assert "ping() answered" in why
    else:
        assert why.startswith("no Docker engine: docker.from_env().ping() failed: ") or "not installed" in why


def test_testcontainers_start_or_licence_message(tmp_path: Path) -> None:
    usable, why = ls.docker_engine()
    if not usable:
        pytest.skip(why)
    local, where = ls.docker_publishes_on_our_loopback()
    if not local:
        pytest.skip(f"testcontainers would not publish on this machine's loopback: {where}")
    try:
        runner = ls._Container(ls.DEFAULT_IMAGE, "eu-west-1", None)
    except BackendError as error:  # no token here: the image must say so, and we must recognise it
        assert "no auth token" in str(error) or "quit at start" in str(error)
        return
    try:
        assert runner.endpoint.startswith("http://127.0.0.1:")
        assert runner.alive(5)
    finally:
        runner.stop()


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_file_is_valid_and_loopback_only() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` (the v2 plugin) nor `docker-compose` is installed")
    compose_file = str(REPO / "docker-compose.yml")
    environ = {"PATH": "/usr/bin:/bin:/usr/local/bin", "LOCALSTACK_AUTH_TOKEN": "ls-dummy-token"}
    done = subprocess.run([*command, "-f", compose_file, "config"], capture_output=True, text=True, env=environ)
    assert done.returncode == 0, done.stderr
    assert "127.0.0.1:4566:4566" in done.stdout
    assert "/_localstack/health" in done.stdout
    assert "LOCALSTACK_AUTH_TOKEN: ls-dummy-token" in done.stdout
    # Without a token it refuses at once, naming the variable, instead of starting a doomed container.
    del environ["LOCALSTACK_AUTH_TOKEN"]
    refused = subprocess.run([*command, "-f", compose_file, "config"], capture_output=True, text=True, env=environ)
    assert refused.returncode != 0
    assert "set LOCALSTACK_AUTH_TOKEN" in refused.stderr + refused.stdout


# -- host mode, for real -----------------------------------------------------------------------------


def test_python313_is_found_or_the_error_says_how_to_get_one() -> None:
    try:
        python = find_python313()
    except BackendError as error:
        assert "STACKPROBE_LOCALSTACK_PYTHON" in str(error) and "Remedy:" in str(error)
        return
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
    assert version.stdout.strip() == b"(3, 13)"


def test_python313_absent_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as error:
        find_python313({"PATH": str(tmp_path), "PYENV_ROOT": str(tmp_path), "UV_PYTHON_INSTALL_DIR": str(tmp_path)})
    message = str(error.value)
    if "/usr/bin/python3.13" in message and Path("/usr/bin/python3.13").exists():
        pytest.skip("this machine has a system python3.13, which is always a candidate")
    assert "needs a CPython 3.13 interpreter" in message and "pyenv install 3.13" in message


# pip, and uv where it is found (stackprobe.backends.tool_venv): the same failure, named the same way.
INSTALLERS = {
    installer.name: installer for installer in (tool_venv.Installer(None, "test"), tool_venv.find_installer())
}


@pytest.mark.parametrize("installer", INSTALLERS.values(), ids=list(INSTALLERS))
def test_a_failed_install_names_its_log_and_leaves_no_half_venv(
    installer: tool_venv.Installer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(localstack_host, "find_python313", lambda: Path("/bin/false"))
    monkeypatch.setattr(tool_venv, "find_installer", lambda: installer)
    with pytest.raises(BackendError) as error:
        localstack_host.ensure_runtime(tmp_path)
    runtime = HostRuntime(tmp_path)
    message = str(error.value)
    assert "Installing LocalStack 2026.3.0 for host mode failed at `" in message and "(exit status " in message
    assert f"read {runtime.install_log}" in message and installer.index_settings() in message
    log = runtime.install_log.read_text()
    assert log.startswith(f"# stackprobe: installing LocalStack 2026.3.0 for host mode\n# installer: {installer.name}")
    assert not runtime.venv.exists()


def test_concurrent_workers_install_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installs: list[int] = []
    contended = threading.Event()
    real_flock = localstack_host.fcntl.flock

    def observed_flock(handle: object, operation: int) -> None:
        try:
            real_flock(handle, operation)  # type: ignore[arg-type]
        except BlockingIOError:
            contended.set()  # the other worker reached the lock while this one installs
            raise

    def slow_install(runtime: HostRuntime) -> None:
        installs.append(threading.get_ident())
        # Installing holds the lock until the other worker has found it held: the race is forced, not hoped for.
        assert contended.wait(30), "the second worker never reached the install lock"
        runtime.python.parent.mkdir(parents=True)
        runtime.python.touch()
        runtime.marker.write_text(json.dumps(runtime.expected_marker()))

    monkeypatch.setattr(localstack_host, "_install", slow_install)
    monkeypatch.setattr(localstack_host.fcntl, "flock", observed_flock)
    results: list[Path] = []
    workers = [threading.Thread(target=lambda: results.append(localstack_host.ensure_runtime(tmp_path))) for _ in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(installs) == 1
    assert results == [HostRuntime(tmp_path).python] * 2


@pytest.fixture(scope="module")
def host_handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ls.LocalStackHandle, float]]:
    """Real host mode, chosen the normal way: nothing external answers, and Docker is made to look absent."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ls, "docker_engine", lambda: (False, "no Docker engine (forced by this test)"))
        started = time.monotonic()
        handle = ls.start_localstack(
            request(tmp_path_factory.mktemp("ls")), environ={"LOCALSTACK_HOST": f"127.0.0.1:{closed_port()}"}
        )
        seconds = time.monotonic() - started
    try:
        yield handle, seconds
    finally:
        handle.stop()


def test_host_mode_venv_is_in_the_cache_and_marked_complete(host_handle: tuple[ls.LocalStackHandle, float]) -> None:
    runtime = HostRuntime(default_cache_dir())
    assert runtime.ready() and runtime.python.exists()
    assert runtime.venv.name == "localstack-venv-2026.3.0"


def test_host_mode_listens_on_loopback_only(host_handle: tuple[ls.LocalStackHandle, float]) -> None:
    handle, _ = host_handle
    assert handle.mode == "host"
    assert handle.endpoint.startswith("http://127.0.0.1:")
    process = handle._runner.process  # type: ignore[attr-defined]
    listeners = process.listeners()
    assert listeners, "the runtime should be listening on its gateway port"
    assert all(listener.loopback for listener in listeners), listeners
    assert not [listener for listener in listeners if listener.protocol.startswith("udp")], "no DNS server"
    # And from the outside: the gateway port refuses connections on every non-loopback address.
    port = int(handle.endpoint.rsplit(":", 1)[1])
    for address in _non_loopback_addresses():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            assert probe.connect_ex((address, port)) != 0, f"LocalStack answers on {address}:{port}"


def _non_loopback_addresses() -> list[str]:
    found: set[str] = set()
    for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
        found.add(str(info[4][0]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # the address of the default route
        try:
            probe.connect(("192.0.2.1", 9))
            found.add(probe.getsockname()[0])
        except OSError:
            pass
    return sorted(a for a in found if not a.startswith("127."))


def test_host_mode_capabilities(host_handle: tuple[ls.LocalStackHandle, float]) -> None:
    handle, _ = host_handle
    caps = handle.capabilities
    assert caps.version == "2026.3.0"
    assert {"s3", "sqs", "kms", "sts", "iam", "ec2", "logs", "cloudwatch", "secretsmanager"} <= caps.services
    assert not {"ecs", "rds", "elbv2", "ecr", "application-autoscaling"} & caps.services
    reason = handle.backend.unavailable_reason("ecs")
    assert reason is not None and "LOCALSTACK_AUTH_TOKEN" in reason and "moto" in reason


def test_host_mode_reset_is_free_while_nothing_changed(host_handle: tuple[ls.LocalStackHandle, float]) -> None:
    handle, _ = host_handle
    process = handle._runner.process  # type: ignore[attr-defined]
    leader = process.process.pid
    handle.backend.client("s3").list_buckets()  # a read: the account is still empty
    handle.reset()
    assert process.process.pid == leader, "nothing changed, so nothing should have been restarted"


def test_host_mode_serves_s3_and_sts_behind_the_guard(host_handle: tuple[ls.LocalStackHandle, float]) -> None:
    handle, _ = host_handle
    backend = handle.backend
    check_pinned(
        backend,
        pinned_environ({}, endpoint=backend.endpoint, region=backend.region, access_key="test", secret_key="test"),
    )
    assert check_caller_identity(backend) == "000000000000"
    s3 = backend.client("s3")
    s3.create_bucket(Bucket="stackprobe-host-mode", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["stackprobe-host-mode"]
    queue_url = backend.client("sqs").create_queue(QueueName="stackprobe-host-mode")["QueueUrl"]
    # No DNS needed, and the shape the Terraform provider parses: <endpoint>/<account>/<name>.
    assert queue_url == f"{backend.endpoint}/000000000000/stackprobe-host-mode"


def test_host_mode_reset_empties_the_account_on_the_same_endpoint(
    host_handle: tuple[ls.LocalStackHandle, float],
) -> None:
    handle, _ = host_handle
    s3 = handle.backend.client("s3")
    s3.create_bucket(Bucket="stackprobe-reset-me", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    endpoint = handle.endpoint
    handle.reset()  # 2026.3.0 has no state reset endpoint: this restarts the runtime on the same port
    assert handle.endpoint == endpoint and handle.alive()
    assert s3.list_buckets()["Buckets"] == []
    assert "Ready." in handle.log_tail(200)


def test_host_mode_stop_ends_the_process_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ls, "docker_engine", lambda: (False, "no Docker engine (forced by this test)"))
    handle = ls.start_localstack(request(tmp_path), environ={"LOCALSTACK_HOST": f"127.0.0.1:{closed_port()}"})
    process = handle._runner.process  # type: ignore[attr-defined]
    leader = process.process.pid
    assert handle.alive()
    handle.stop()
    assert not handle.alive()
    assert not Path(f"/proc/{leader}").exists() or "Z" in Path(f"/proc/{leader}/stat").read_text().split()[2]
    assert listening_sockets([leader]) == []


def test_log_tail_of_host_mode_names_the_runtime(host_handle: tuple[ls.LocalStackHandle, float]) -> None:
    handle, _ = host_handle
    assert "Ready." in handle.log_tail(500)
    assert handle.capabilities.version == "2026.3.0"
