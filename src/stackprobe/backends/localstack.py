"""LocalStack as a backend, from the first of three sources that works, behind one running handle.

1. external: a LocalStack someone already runs, at --stackprobe-endpoint, else $AWS_ENDPOINT_URL, else
   where `localstack_client` says one lives ($LOCALSTACK_HOST, legacy $EDGE_PORT, default
   localhost:4566, e.g. the repository's docker-compose.yml). Used only when its health endpoint
   answers; stackprobe never stops it.
2. testcontainers: a container, when a Docker engine answers a ping and an image can run here (every
   localstack/localstack image needs LOCALSTACK_AUTH_TOKEN since 2026-03-23, so without a token this
   mode is passed over unless $STACKPROBE_LOCALSTACK_IMAGE names an image that runs without one).
3. host: LocalStack's open-source runtime in its own venv, as a subprocess (`localstack_host`).
The handle's backend reports what LocalStack says it serves; checks that need a missing service are
skipped with a hint that names what would enable it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from stackprobe.backends.base import AwsBackend, EmulatorRequest
from stackprobe.backends.capabilities import (
    PAID_TIER_SERVICES,
    RESOURCE_SERVICES,
    Capabilities,
    boto3_names,
    detect,
    licence_error,
    licence_problem,
)
from stackprobe.backends.guard import is_loopback_url
from stackprobe.backends.localstack_host import HostLocalStack, ensure_runtime, free_port, health_answers
from stackprobe.errors import BackendError, RealAwsRefused

LOG = logging.getLogger("stackprobe.localstack")

LOCALSTACK_ACCOUNT_ID = "000000000000"
EDGE_PORT = 4566
DEFAULT_IMAGE = "localstack/localstack:latest"
IMAGE_VARIABLE = "STACKPROBE_LOCALSTACK_IMAGE"
TOKEN_VARIABLE = "LOCALSTACK_AUTH_TOKEN"
DOCKER_PING_TIMEOUT = 3.0
CONTAINER_READY_TIMEOUT = 180.0
# What the container is told, for the same reasons as host mode (see localstack_host.RUNTIME_SETTINGS):
# queue URLs that need no DNS and that the Terraform provider accepts, and no usage events.
CONTAINER_SETTINGS: Mapping[str, str] = {"SQS_ENDPOINT_STRATEGY": "off", "DISABLE_EVENTS": "1", "PERSISTENCE": "0"}


# Resource types whose own delete never finishes on LocalStack, although deleting their parent removes
# them (AwsBackend.destroyed_with_parent).
DESTROYED_WITH_PARENT: Mapping[str, str] = {
    "aws_sqs_queue_redrive_allow_policy": "LocalStack 2026.3.0 answers RedriveAllowPolicy='' after the provider "
    "sets it empty, instead of removing the attribute as AWS does (it removes Policy and RedrivePolicy, "
    "localstack#11385), so the provider's delete waits for a removal that never shows; the attribute goes "
    "with its queue.",
}


class _Runner(Protocol):
    """How one source of LocalStack is kept alive, restarted, stopped, and read."""

    endpoint: str

    def alive(self, timeout: float) -> bool: ...
    def restart(self) -> None: ...
    def stop(self) -> None: ...
    def log_tail(self, lines: int) -> str: ...
    def pristine(self) -> bool: ...


class LocalStackHandle:
    """A running LocalStack: its backend, how it was obtained, and its lifecycle.

    It offers what the harness asks of the embedded moto (`alive`, `reset`, `restart`, `stop`, and
    `request_log.render_tail` for failure reports), so it can stand where `EmbeddedMoto` stands.
    """

    def __init__(
        self, mode: str, runner: _Runner, capabilities: Capabilities, region: str, attempts: list[str]
    ) -> None:
        self.mode = mode
        self.capabilities = capabilities
        self.attempts = attempts  # how the mode was chosen, for logs and error reports
        self._runner = runner
        self.backend = localstack_backend(runner.endpoint, region, capabilities)
        self.request_log = _LogTailView(self)

    @property
    def endpoint(self) -> str:
        return self.backend.endpoint

    def alive(self, timeout: float = 5.0) -> bool:
        return self._runner.alive(timeout)

    def stop(self) -> None:
        """Stop what stackprobe started (process group, container); an external LocalStack is left alone."""
        self._runner.stop()

    def log_tail(self, lines: int = 40) -> str:
        return self._runner.log_tail(lines)

    def restart(self) -> AwsBackend:
        """Start it again on the same endpoint (after it died), so state files still point at it."""
        self._runner.restart()
        return self.backend

    def reset(self) -> None:
        """Empty every service: LocalStack's state reset, or a restart where that is missing.

        Nothing at all when LocalStack's own request log shows no call that could have changed state
        since it started: the community runtime has no reset endpoint, and a restart costs seconds.
        """
        if self._runner.pristine():
            LOG.info("LocalStack (%s) has served no state-changing call since it started; no reset needed", self.mode)
            return
        request = urllib.request.Request(f"{self.endpoint}/_localstack/state/reset", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if 200 <= response.status < 300:
                    return
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if self.mode == "external":
            raise BackendError(
                f"The LocalStack at {self.endpoint} could not be reset (POST /_localstack/state/reset: {problem})",
                "restart that LocalStack yourself (or use a version with the state reset endpoint), or let "
                "stackprobe start its own by unsetting --stackprobe-endpoint and $AWS_ENDPOINT_URL.",
            )
        LOG.warning("LocalStack state reset failed (%s); restarting it instead", problem)
        self._runner.restart()


class _LogTailView:
    """`request_log.render_tail(n)`, the shape failure reports read from the embedded moto."""

    def __init__(self, handle: LocalStackHandle) -> None:
        self._handle = handle

    def render_tail(self, lines: int = 15) -> str:
        return self._handle.log_tail(lines) or f"(no log: the {self._handle.mode} LocalStack keeps its own)"

    def render_exceptions(self) -> str:
        return ""  # LocalStack's errors are in its log, which render_tail shows


# LocalStack logs every AWS call at INFO ("localstack.request.aws : AWS s3.CreateBucket => 200"); these
# operation prefixes only read. Any other operation, failed or not, counts as a possible change.
_AWS_CALL = re.compile(r"localstack\.request(?:\.internal)?\.aws\s*: AWS [\w-]+\.(?P<operation>\w+) =>")
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Scan", "Query")


def only_reads(log_text: str) -> bool:
    """True when every AWS call in a LocalStack log is a read (List*, Describe*, Get*, ...)."""
    return all(m.group("operation").startswith(READ_ONLY_PREFIXES) for m in _AWS_CALL.finditer(log_text))


def localstack_backend(endpoint: str, region: str, capabilities: Capabilities) -> AwsBackend:
    """The AwsBackend for a LocalStack: its dummy identity, the services it lists, hints for the rest."""
    known = set(PAID_TIER_SERVICES) | {s for services in RESOURCE_SERVICES.values() for s in services}
    for name in capabilities.states:
        known.update(boto3_names(name))
    return AwsBackend(
        name="localstack",
        endpoint=endpoint,
        region=region,
        account_id=LOCALSTACK_ACCOUNT_ID,
        services=capabilities.services,
        unavailable_hints=capabilities.hints(sorted(known)),
        destroyed_with_parent=DESTROYED_WITH_PARENT,
    )


# -- choosing the source --------------------------------------------------------------------------


def start_localstack(request: EmulatorRequest, *, environ: Mapping[str, str] | None = None) -> LocalStackHandle:
    """An external LocalStack if one answers, else a container if Docker can run one, else host mode."""
    env = os.environ if environ is None else environ
    attempts: list[str] = []
    external = find_external(request.endpoint, env, attempts)
    if external is not None:
        return _handle("external", _External(external), request.region, attempts)
    image = env.get(IMAGE_VARIABLE) or DEFAULT_IMAGE
    usable, why = docker_engine()
    attempts.append(f"docker: {why}")
    if usable:
        local, where = docker_publishes_on_our_loopback()
        if not local:
            attempts.append(f"testcontainers: passed over: {where}")
        elif env.get(TOKEN_VARIABLE) or env.get(IMAGE_VARIABLE):
            runner = _Container(image, request.region, env.get(TOKEN_VARIABLE))
            return _handle("testcontainers", runner, request.region, attempts)
        else:
            attempts.append(
                f"testcontainers: passed over: {TOKEN_VARIABLE} is not set and {image} needs it since 2026-03-23 "
                f"(set it, or name a token-free image in ${IMAGE_VARIABLE})"
            )
    LOG.info("LocalStack: using host mode (%s)", "; ".join(attempts))
    return _handle("host", start_host(request.cache_dir, request.work_dir), request.region, attempts)


def _handle(mode: str, runner: _Runner, region: str, attempts: list[str]) -> LocalStackHandle:
    try:
        capabilities = detect(runner.endpoint)
    except BackendError:
        if mode != "external":
            runner.stop()
        raise
    LOG.info("LocalStack (%s): %s", mode, capabilities.describe())
    return LocalStackHandle(mode, runner, capabilities, region, attempts)


def external_candidates(endpoint: str | None, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(url, where it came from), in the order they are tried."""
    if endpoint:
        return [(endpoint.rstrip("/"), "--stackprobe-endpoint")]
    found: list[tuple[str, str]] = []
    if environ.get("AWS_ENDPOINT_URL", "").strip():
        found.append((environ["AWS_ENDPOINT_URL"].strip().rstrip("/"), "AWS_ENDPOINT_URL"))
    found.append(_localstack_client_edge(environ))
    return found


def _localstack_client_edge(environ: Mapping[str, str]) -> tuple[str, str]:
    """The edge URL as `localstack_client` derives it: $LOCALSTACK_HOST (host[:port]), https if $USE_SSL.

    Its `get_service_endpoint` would answer $AWS_ENDPOINT_URL first, which is tried on its own
    above; so this uses the library's parser and defaults for the LOCALSTACK_HOST part only. The
    legacy $EDGE_PORT (which that library no longer reads) still counts when LOCALSTACK_HOST is unset.
    """
    try:
        from localstack_client import config as ls_config
    except ImportError as exc:
        raise BackendError(
            "The LocalStack backend needs the `localstack` extra, which is not installed",
            "pip install 'stackprobe[localstack]' (localstack-client and testcontainers), or use "
            "--stackprobe-backend=moto.",
        ) from exc

    if environ.get("LOCALSTACK_HOST"):
        given, source = environ["LOCALSTACK_HOST"], "LOCALSTACK_HOST"
    elif environ.get("EDGE_PORT"):
        given, source = f"localhost:{environ['EDGE_PORT']}", "EDGE_PORT"
    else:
        given, source = f"localhost:{ls_config.DEFAULT_EDGE_PORT}", "localstack_client's default"
    hostname, port = ls_config.parse_localstack_host(given)
    scheme = "https" if environ.get("USE_SSL") in ("1", "true") else "http"
    return f"{scheme}://{hostname}:{port}", source


def find_external(endpoint: str | None, environ: Mapping[str, str], attempts: list[str]) -> str | None:
    """The first candidate whose /_localstack/health answers; the explicit endpoint must answer."""
    for url, source in external_candidates(endpoint, environ):
        explicit = source == "--stackprobe-endpoint"
        if not is_loopback_url(url):
            if explicit:
                raise RealAwsRefused(
                    f"Refusing to use --stackprobe-endpoint {url}: it is not a loopback address",
                    "run LocalStack on this machine and publish it on 127.0.0.1 (docker-compose.yml does), "
                    "or leave the option out and let stackprobe start one.",
                )
            attempts.append(f"{source} {url}: not a loopback address, not contacted")
            continue
        if health_answers(url):
            attempts.append(f"{source} {url}: LocalStack answers")
            return url
        if explicit:
            raise BackendError(
                f"No LocalStack answers at --stackprobe-endpoint {url} (GET /_localstack/health)",
                "start it first (`docker compose up -d --wait` with LOCALSTACK_AUTH_TOKEN set), fix the URL, or "
                "leave the option out and let stackprobe start LocalStack itself.",
            )
        attempts.append(f"{source} {url}: no LocalStack health endpoint answers")
    return None


def docker_engine(timeout: float = DOCKER_PING_TIMEOUT) -> tuple[bool, str]:
    """(True, how) when a Docker engine answers a ping within `timeout`; else (False, what failed)."""
    try:
        # No stubs ship with the docker SDK (and types-docker is not a dependency): it is used as Any.
        import docker  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return False, "the docker SDK is not installed (pip install 'stackprobe[localstack]')"
    client: Any = None
    try:
        client = docker.from_env(timeout=int(max(1, timeout)))
        client.ping()
        return True, f"docker.from_env().ping() answered at {client.api.base_url}"
    except Exception as exc:  # the SDK raises DockerException, requests' errors, or OSError
        return False, f"no Docker engine: docker.from_env().ping() failed: {exc}"
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


def docker_publishes_on_our_loopback() -> tuple[bool, str]:
    """Whether a port the engine publishes on 127.0.0.1 is this process's 127.0.0.1.

    It is not when the engine runs elsewhere (a remote DOCKER_HOST) or when this process runs in a
    container that talks to the host's engine: testcontainers then reaches containers through a
    bridge or gateway address, which stackprobe's loopback-only rule does not allow.
    """
    try:
        from testcontainers.core.config import ConnectionMode
        from testcontainers.core.docker_client import DockerClient

        client = DockerClient()
        mode, host = client.get_connection_mode(), client.host()
    except Exception as exc:  # an unreachable or misconfigured engine: say so, use host mode
        return False, f"testcontainers could not talk to the Docker engine: {exc}"
    if mode != ConnectionMode.docker_host or host not in ("localhost", "127.0.0.1", "::1"):
        return False, (
            f"the Docker engine is reached at {host} ({mode.value}), so a port it publishes on loopback is not "
            "this machine's loopback"
        )
    return True, f"the Docker engine publishes on this machine ({host})"


# -- external -------------------------------------------------------------------------------------


class _External:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def alive(self, timeout: float) -> bool:
        return health_answers(self.endpoint, timeout)

    def restart(self) -> None:
        raise BackendError(
            f"The LocalStack at {self.endpoint} stopped answering, and stackprobe did not start it",
            "restart it yourself (e.g. `docker compose up -d --wait`) and run again.",
        )

    def stop(self) -> None:
        """Never stops it: someone else runs it, maybe for other work too."""

    def log_tail(self, lines: int) -> str:
        return ""

    def pristine(self) -> bool:
        return False  # its log is not ours to read, and others may use it


# -- host mode ------------------------------------------------------------------------------------


class _Host:
    def __init__(self, process: HostLocalStack) -> None:
        self.process = process
        self.endpoint = process.endpoint

    def alive(self, timeout: float) -> bool:
        return self.process.alive(timeout)

    def restart(self) -> None:
        self.process.restart()
        _require_loopback_only(self.process)

    def stop(self) -> None:
        self.process.stop()

    def log_tail(self, lines: int) -> str:
        return self.process.log_tail(lines)

    def pristine(self) -> bool:
        # Each start writes a fresh log, so the whole file covers exactly this run of the runtime.
        return self.process.log_path is not None and only_reads(self.process.log_path.read_text(errors="replace"))


def start_host(cache_dir: Path, work_dir: Path) -> _Host:
    """Host mode: install the runtime if needed, start it on a free loopback port, prove it stays there."""
    python = ensure_runtime(cache_dir)
    process = HostLocalStack(python, work_dir / "localstack")
    process.start()
    _require_loopback_only(process)
    return _Host(process)


def _require_loopback_only(process: HostLocalStack) -> None:
    exposed = process.non_loopback_listeners()
    if exposed:
        process.stop()
        raise BackendError(
            "LocalStack host mode listened beyond loopback, so it was stopped",
            "report this as a stackprobe bug (a new LocalStack listener needs switching off in "
            "localstack_host.RUNTIME_SETTINGS); meanwhile use --stackprobe-backend=moto.",
            detail=f"Listeners: {', '.join(map(str, exposed))}.",
        )


# -- testcontainers -------------------------------------------------------------------------------


class _Container:
    """A LocalStack container published on 127.0.0.1 only, on a port chosen here (kept across restarts)."""

    def __init__(self, image: str, region: str, token: str | None) -> None:
        self.image = image
        self.region = region
        self.token = token
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.container: Any = None
        self._start()

    def _start(self) -> None:
        try:
            from testcontainers.community.localstack import LocalStackContainer
        except ImportError:  # testcontainers before 4.14 keeps it at the old path
            from testcontainers.localstack import LocalStackContainer
        from testcontainers.core.container import DockerContainer

        container = LocalStackContainer(image=self.image, region_name=self.region)
        # Publish on loopback only: the default publishes on every interface of the host.
        ports: dict[str, Any] = container.ports
        ports.clear()
        ports[f"{EDGE_PORT}/tcp"] = ("127.0.0.1", self.port)
        if self.token:
            container.with_env("LOCALSTACK_AUTH_TOKEN", self.token)
        container.with_env("LOCALSTACK_HOST", f"127.0.0.1:{self.port}")
        for key, value in CONTAINER_SETTINGS.items():
            container.with_env(key, value)
        # The base class's start, not LocalStackContainer's: that one waits for "Ready." in the log
        # for a full minute even when the container has already quit over its licence.
        DockerContainer.start(container)
        self.container = container
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + CONTAINER_READY_TIMEOUT
        while time.monotonic() < deadline:
            if health_answers(self.endpoint):
                return
            wrapped = self.container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status in ("exited", "dead"):
                logs = self.log_tail(200)
                self.stop()
                problem = licence_problem(logs)
                if problem is not None:
                    raise licence_error(problem, self.image)
                raise BackendError(
                    f"The LocalStack container ({self.image}) quit at start",
                    "read its log below; pin another image with $STACKPROBE_LOCALSTACK_IMAGE, or run without "
                    "Docker (host mode) or with --stackprobe-backend=moto.",
                    detail="Last lines: " + " | ".join(logs.splitlines()[-10:]),
                )
            time.sleep(0.5)
        logs = self.log_tail(10)
        self.stop()
        raise BackendError(
            f"The LocalStack container ({self.image}) did not answer /_localstack/health within "
            f"{CONTAINER_READY_TIMEOUT:.0f} s",
            "check the Docker engine's load and the container log, or use --stackprobe-backend=moto.",
            detail="Last lines: " + " | ".join(logs.splitlines()),
        )

    def alive(self, timeout: float) -> bool:
        return self.container is not None and health_answers(self.endpoint, timeout)

    def restart(self) -> None:
        self.stop()
        self._start()

    def stop(self) -> None:
        container, self.container = self.container, None
        if container is not None:
            with contextlib.suppress(Exception):  # already gone (Ryuk, a manual `docker rm`) is fine
                container.stop()

    def log_tail(self, lines: int) -> str:
        if self.container is None:
            return ""
        try:
            stdout, stderr = self.container.get_logs()
        except Exception as exc:  # the container may be gone already
            return f"(container log unavailable: {exc})"
        text = (stdout + stderr).decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def pristine(self) -> bool:
        return self.container is not None and only_reads(self.log_tail(1_000_000))
