"""Execute health checks the way AWS does: an ALB target group's, and an ECS container's `healthCheck`.

IMPORTANT: moto reports every registered target as healthy (DescribeTargetHealth answers "healthy"
whatever the target does) and runs no health check at all, so target health read from the emulator
is NOT evidence. This probe is: it sends the request the ALB would send, to the process that stands
in for the task, and judges the answer with the target group's own matcher and thresholds.

ALB semantics reproduced: an HTTP(S) GET of HealthCheckPath on the health-check port, no redirects
followed (a 301/302 is just a status code, judged by the matcher), HealthCheckTimeoutSeconds as the
timeout, HealthyThresholdCount consecutive successes to turn healthy and UnhealthyThresholdCount
consecutive failures to turn unhealthy. The checks run back to back at a short pause: the real
HealthCheckIntervalSeconds is not waited out (it changes when a verdict comes, not what it is).
gRPC matchers are out of scope.
"""

from __future__ import annotations

import http.client
import re
import shlex
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.probes.output import last_lines

ALB_USER_AGENT = "ELB-HealthChecker/2.0"
PROBE_PAUSE_SECONDS = 0.2
START_PERIOD_PAUSE_SECONDS = 1.0


class MatcherError(ValueError):
    """A matcher that is not an HTTP code list or range (e.g. a gRPC matcher)."""


@dataclass(frozen=True)
class Matcher:
    """An ALB success-code matcher: `200`, `200,302`, `200-299`, or a mix (`200-204,301`)."""

    text: str
    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, text: str) -> Matcher:
        ranges: list[tuple[int, int]] = []
        for part in text.replace(" ", "").split(","):
            match = re.fullmatch(r"(\d{3})(?:-(\d{3}))?", part)
            if match is None:
                raise MatcherError(f"matcher {text!r} is not a list or range of HTTP codes")
            low = int(match[1])
            high = int(match[2]) if match[2] else low
            if high < low:
                raise MatcherError(f"matcher range {part!r} is reversed")
            ranges.append((low, high))
        return cls(text=text, ranges=tuple(ranges))

    def accepts(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.ranges)


@dataclass(frozen=True)
class AlbHealthCheck:
    """A target group's health-check settings, read from DescribeTargetGroups."""

    protocol: str
    port: str
    path: str
    matcher: Matcher
    timeout_seconds: float
    interval_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int

    @classmethod
    def from_target_group(cls, target_group: Mapping[str, Any]) -> AlbHealthCheck:
        """Raises MatcherError for gRPC (or malformed) matchers, which this probe does not judge."""
        matcher = target_group.get("Matcher") or {}
        if "HttpCode" not in matcher:
            raise MatcherError(f"matcher {matcher} has no HttpCode (gRPC health checks are out of scope)")
        return cls(
            protocol=str(target_group.get("HealthCheckProtocol") or "HTTP").upper(),
            port=str(target_group.get("HealthCheckPort") or "traffic-port"),
            path=str(target_group.get("HealthCheckPath") or "/"),
            matcher=Matcher.parse(str(matcher["HttpCode"])),
            timeout_seconds=float(target_group.get("HealthCheckTimeoutSeconds") or 5),
            interval_seconds=int(target_group.get("HealthCheckIntervalSeconds") or 30),
            healthy_threshold=int(target_group.get("HealthyThresholdCount") or 5),
            unhealthy_threshold=int(target_group.get("UnhealthyThresholdCount") or 2),
        )

    def describe(self) -> str:
        return (
            f"{self.protocol} GET {self.path} on port {self.port}, matcher {self.matcher.text}, "
            f"timeout {self.timeout_seconds:g} s, healthy after {self.healthy_threshold}"
        )


@dataclass(frozen=True)
class Attempt:
    """One health-check request: the status seen (None when no HTTP answer) or the error."""

    status: int | None
    error: str | None
    passed: bool
    seconds: float
    location: str | None = None

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        redirect = f" → Location {self.location} (not followed)" if self.location else ""
        return f"{self.status}{redirect}"


@dataclass(frozen=True)
class HealthOutcome:
    """The ALB's conclusion after consecutive attempts, with every attempt kept as evidence."""

    healthy: bool
    attempts: tuple[Attempt, ...]
    summary: str


def request_once(check: AlbHealthCheck, host: str, port: int) -> Attempt:
    """One health-check request as the ALB sends it: GET, its User-Agent, no redirect following."""
    started = time.monotonic()
    connection: http.client.HTTPConnection
    if check.protocol == "HTTPS":
        # The ALB does not validate target certificates.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=check.timeout_seconds, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=check.timeout_seconds)
    try:
        connection.request("GET", check.path, headers={"User-Agent": ALB_USER_AGENT, "Host": f"{host}:{port}"})
        response = connection.getresponse()
        response.read()
        status = int(response.status)
        location = response.getheader("Location")
    except (OSError, http.client.HTTPException) as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}", False, time.monotonic() - started)
    finally:
        connection.close()
    return Attempt(
        status,
        None,
        check.matcher.accepts(status),
        time.monotonic() - started,
        location if 300 <= status < 400 else None,
    )


def connect_once(check: AlbHealthCheck, host: str, port: int) -> Attempt:
    """A TCP health check: healthy when the connection opens."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=check.timeout_seconds):
            pass
    except OSError as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}", False, time.monotonic() - started)
    return Attempt(None, None, True, time.monotonic() - started)


def probe_target(
    check: AlbHealthCheck,
    port: int,
    *,
    host: str = "127.0.0.1",
    pause: float = PROBE_PAUSE_SECONDS,
    request: Callable[[AlbHealthCheck, str, int], Attempt] | None = None,
) -> HealthOutcome:
    """Run the health check until the ALB would decide: N consecutive passes (healthy) or M consecutive
    failures (unhealthy), with `pause` seconds between attempts instead of the real interval."""
    send = request or (connect_once if check.protocol == "TCP" else request_once)
    attempts: list[Attempt] = []
    passes = failures = 0
    limit = 3 * (check.healthy_threshold + check.unhealthy_threshold)
    while len(attempts) < limit:
        attempt = send(check, host, port)
        attempts.append(attempt)
        passes, failures = (passes + 1, 0) if attempt.passed else (0, failures + 1)
        if passes >= check.healthy_threshold or failures >= check.unhealthy_threshold:
            break
        time.sleep(pause)
    healthy = passes >= check.healthy_threshold
    seen = ", ".join(a.describe() for a in attempts)
    verdict = "healthy" if healthy else "unhealthy"
    summary = (
        f"{verdict}: GET {check.path} on 127.0.0.1:{port} → [{seen}] vs matcher {check.matcher.text} "
        f"({check.healthy_threshold} passes / {check.unhealthy_threshold} failures decide; checks "
        f"{pause:g} s apart, the real {check.interval_seconds} s interval not waited)"
    )
    return HealthOutcome(healthy, tuple(attempts), summary)


@dataclass(frozen=True)
class ContainerCheckResult:
    passed: bool
    command: str
    returncode: int | None
    output: str
    tries: int
    # Failed tries within the container's startPeriod, which ECS does not count against it.
    uncounted: int = 0

    def describe(self) -> str:
        code = "timed out" if self.returncode is None else f"exit {self.returncode}"
        output = f": {self.output}" if self.output else ""
        tries = f"{self.tries} try" if self.tries == 1 else f"{self.tries} tries"
        if self.uncounted:
            tries += f" ({self.uncounted} within the startPeriod, not counted)"
        return f"container healthCheck `{self.command}` → {code} after {tries}{output}"


_LOOPBACK_URL = re.compile(r"(?P<scheme>https?)://(?P<host>localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(?P<port>\d+))?")


def localize_command(command: str, to_local: Callable[[int], int]) -> str:
    """Rewrite loopback URLs of a CMD-SHELL health check to the local stand-in ports."""

    def swap(match: re.Match[str]) -> str:
        default = 443 if match["scheme"] == "https" else 80
        port = int(match["port"]) if match["port"] else default
        return f"{match['scheme']}://127.0.0.1:{to_local(port)}"

    return _LOOPBACK_URL.sub(swap, command)


def container_check_argv(command: Sequence[str], to_local: Callable[[int], int]) -> list[str]:
    """ECS healthCheck.command to an argv: `CMD` → the argv itself, `CMD-SHELL` → `sh -c`, with loopback
    URLs pointed at the local stand-in ports. The program is found on the PATH the stand-in runs with."""
    if not command:
        raise ValueError("empty healthCheck command")
    kind, rest = command[0], list(command[1:])
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", localize_command(" ".join(rest), to_local)]
    if kind != "CMD":
        # ECS also accepts a bare argv; treat it like CMD.
        rest = list(command)
    if not rest:
        raise ValueError("healthCheck command has nothing to run")
    return [localize_command(part, to_local) for part in rest]


# Runs one health-check argv with a timeout: (exit code, or None on timeout; what it printed).
Execute = Callable[[list[str], float], tuple[int | None, str]]


def local_executor(env: Mapping[str, str], cwd: Path | None) -> Execute:
    """Run health-check commands on this machine, with the stand-in's environment and directory."""

    def execute(argv: list[str], timeout: float) -> tuple[int | None, str]:
        try:
            completed = subprocess.run(
                argv,
                env=dict(env),
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, f"no exit within {timeout:g} s"
        except OSError as exc:
            return 127, f"cannot run: {exc}"
        return completed.returncode, completed.stdout + completed.stderr

    return execute


def run_container_check(
    health_check: Mapping[str, Any],
    to_local: Callable[[int], int],
    execute: Execute,
    *,
    pause: float = PROBE_PAUSE_SECONDS,
    start_period: float = 0.0,
) -> ContainerCheckResult:
    """Run the container's healthCheck command as ECS does: killed after `timeout` seconds, healthy on the
    first exit 0, unhealthy after `retries` failures; failures within the first `start_period` seconds (what
    is left of the container's startPeriod) do not count. What the command printed is kept without terminal
    noise (curl's progress meter, colours: `stackprobe.probes.output`)."""
    command = [str(part) for part in health_check.get("command") or []]
    timeout = float(health_check.get("timeout") or 5)
    retries = max(1, int(health_check.get("retries") or 3))
    argv = container_check_argv(command, to_local)
    if command[:1] == ["CMD-SHELL"]:
        shown = " ".join(command[1:])
    else:
        shown = shlex.join(command[1:] if command[:1] == ["CMD"] else command)
    started = time.monotonic()
    tries = counted = 0
    while True:
        tries += 1
        returncode, printed = execute(argv, timeout)
        output = last_lines(printed, 3)
        if returncode == 127:
            output += " (command not found here; slim images often lack curl/wget too)"
        if returncode == 0:
            return ContainerCheckResult(True, shown, 0, output, tries, tries - 1 - counted)
        in_start_period = time.monotonic() - started < start_period
        counted += 0 if in_start_period else 1
        if counted >= retries:
            return ContainerCheckResult(False, shown, returncode, output, tries, tries - counted)
        # Within the start period the check is retried at a slower pace: it waits for the app, not for a verdict.
        time.sleep(max(pause, START_PERIOD_PAUSE_SECONDS) if in_start_period else pause)
