"""The community subset of the reference stack on free LocalStack, checked against the embedded moto.

`stackprobe parity` runs as a subprocess, so that it brings up its own backends whatever this test
session runs on (embedded moto in `make test`): LocalStack's open-source runtime started on this host
by the harness itself, and moto inside that subprocess. The same configuration
(terraform/environments/localstack-community.tfvars: only services free LocalStack serves) is applied
to both, the same checks run on both, and this test asserts what the subset promises: private,
encrypted S3, the network's intent and KMS rotation pass on LocalStack, both emulators agree on
them, and whatever needs a service LocalStack does not serve is skipped, naming that service.

It skips only when host mode cannot be built here: no CPython 3.13, or PyPI unreachable while the
host-mode venv does not exist yet (building it takes minutes, once per machine).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends.localstack_host import HostRuntime, find_python313
from stackprobe.checks import by_id
from stackprobe.errors import BackendError
from stackprobe.settings import default_cache_dir
from stackprobe.testing import in_background

pytestmark = [pytest.mark.localstack, pytest.mark.xdist_group("localstack")]

REPO = Path(__file__).resolve().parents[2]
COMMUNITY = REPO / "terraform" / "environments" / "localstack-community.tfvars"
S3_CHECKS = ["s3.public-access-block", "s3.encryption-kms", "s3.versioning", "s3.no-public-access", "s3.tls-only"]
KMS_CHECKS = ["kms.rotation"]
# Services the community subset switches off because free LocalStack does not serve them.
UNSERVED = {"ecs", "rds", "elbv2", "ecr", "application-autoscaling", "backup", "elasticache", "wafv2", "cloudfront"}
TIMEOUT = 3600.0  # a first run also builds the host-mode venv


def require_host_mode() -> None:
    """Skip, saying exactly why, when LocalStack's host mode cannot be built on this machine."""
    try:
        find_python313()
    except BackendError as exc:
        pytest.skip(f"LocalStack host mode needs CPython 3.13, and none is available here: {exc.problem}")
    runtime = HostRuntime(default_cache_dir())
    if runtime.ready():
        return
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/localstack-core/", timeout=15):
            pass
    except (urllib.error.URLError, OSError) as exc:
        pytest.skip(
            f"the LocalStack host-mode venv ({runtime.venv}) is not built yet and PyPI is unreachable at "
            f"{index} ({exc}), so it cannot be built"
        )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def parity_environment() -> dict[str, str]:
    """This process's environment, minus whatever would make the subprocess use another LocalStack.

    No AWS endpoint or identity (this session pinned its own moto's), nothing external to find (an
    unused LOCALSTACK_HOST port rather than a developer's LocalStack on 4566) and no Docker engine to
    run a container in: what is under test is the LocalStack the harness starts on the host by itself.
    """
    dropped = ("LOCALSTACK_HOST", "EDGE_PORT", "LOCALSTACK_AUTH_TOKEN", "STACKPROBE_LOCALSTACK_IMAGE", "DOCKER_HOST")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_") and key not in dropped}
    env["LOCALSTACK_HOST"] = f"127.0.0.1:{closed_port()}"
    env["DOCKER_HOST"] = "unix:///nonexistent/stackprobe-no-docker.sock"
    return env


@pytest.fixture(scope="module")
def parity_run() -> dict[str, Any]:
    require_host_mode()
    command = [
        sys.executable,
        "-m",
        "stackprobe",
        "parity",
        "terraform",
        "--var-file",
        str(COMMUNITY),
        "--format",
        "json",
    ]
    # Its moto side publishes the localstack-community plan to the plan store in the user cache, where
    # the scenario plans read it: computed once per run (and not at all when a run before made it).
    started = time.monotonic()
    done = subprocess.run(
        in_background(command),
        cwd=REPO,
        env=parity_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    seconds = time.monotonic() - started
    sys.stderr.write(f"stackprobe parity took {seconds:.0f} s\n")
    context = f"exit {done.returncode}; stderr tail:\n" + "\n".join(done.stderr.splitlines()[-40:])
    assert done.stdout.strip(), f"stackprobe parity printed no table ({context})"
    body: dict[str, Any] = json.loads(done.stdout)
    body["_context"] = context
    body["_exit"] = done.returncode
    return body


def rows(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in run["checks"]}


def test_localstack_was_started_on_this_host_by_the_harness(parity_run: dict[str, Any]) -> None:
    localstack = parity_run["localstack"]
    assert localstack["mode"] == "host", localstack
    # The open-source runtime reports no edition ("unknown"); a Pro image would say "pro".
    assert localstack["description"].startswith(("LocalStack community ", "LocalStack unknown ")), localstack
    assert "no activated licence" in localstack["description"], localstack
    assert parity_run["runs"]["localstack"]["backend"] == "localstack"  # planned, applied and checked there
    for name, run in parity_run["runs"].items():
        assert not run["errors"], f"the {name} run failed: {run['errors']}\n{parity_run['_context']}"


@pytest.mark.parametrize("check_id", S3_CHECKS + KMS_CHECKS)
def test_s3_and_kms_pass_on_localstack_and_both_emulators_agree(parity_run: dict[str, Any], check_id: str) -> None:
    row = rows(parity_run)[check_id]
    assert row["localstack"]["status"] == "pass", row
    assert row["moto"]["status"] == "pass", row
    assert row["agreement"] == "agree", row


def test_the_network_checks_that_apply_pass_on_localstack_and_agree(parity_run: dict[str, Any]) -> None:
    network = {cid: row for cid, row in rows(parity_run).items() if cid.startswith("network.")}
    applying = {cid: row for cid, row in network.items() if row["localstack"]["status"] != "skipped"}
    assert {"network.no-world-ingress", "network.default-sg-locked"} <= set(applying), network
    for row in applying.values():
        assert row["localstack"]["status"] in ("pass", "not applicable"), row
        assert row["agreement"] == "agree", row
    assert any(row["localstack"]["status"] == "pass" for row in applying.values())


def test_checks_needing_unserved_services_are_skipped_naming_the_service(parity_run: dict[str, Any]) -> None:
    skipped = [row for row in parity_run["checks"] if row["localstack"]["status"] == "skipped"]
    assert skipped, "nothing was skipped on LocalStack, yet the catalogue has ECS, RDS and ELBv2 checks"
    for row in skipped:
        reason = row["localstack"]["skipped_reason"]
        named = [service for service in by_id(row["id"]).services if f"does not serve `{service}`" in reason]
        assert named and set(named) <= UNSERVED, row
        assert "LOCALSTACK_AUTH_TOKEN" in reason or "embedded moto backend" in reason, row  # what would enable it
        assert row["agreement"] == "not compared", row
    assert {"deployment.circuit-breaker", "database.backup-retention", "edge.https-only"} <= {r["id"] for r in skipped}


def test_no_emulator_disagreement(parity_run: dict[str, Any]) -> None:
    findings = [row for row in parity_run["checks"] if row["agreement"] in ("EMULATOR DISAGREEMENT", "error on both")]
    assert not findings, json.dumps(findings, indent=2)
    assert parity_run["ok"] and parity_run["_exit"] == 0, parity_run["_context"]
