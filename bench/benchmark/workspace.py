"""What bare terraform needs to run as stackprobe would run it: the emulator, the environment, the CLI config,
a private copy of terraform/ with stackprobe's provider override, and the hosted zone prod.tfvars names.

Used by the bare-terraform parts (a, a20) and the native peer (g); the live parts use `snapshot_stack`.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .commands import stop_group
from .config import COMMAND_LOG_ENV, NATIVE, PROD_VARS, REPO, TEARDOWN_VAR, TF_DIR, VENV_BIN


def terraform_binary() -> str:
    found = shutil.which("terraform")
    if not found:
        raise SystemExit("bench: terraform is not on PATH")
    return found


def terraform_version(binary: str) -> str:
    done = subprocess.run([binary, "version", "-json"], capture_output=True, text=True, timeout=60, check=False)
    try:
        return str(json.loads(done.stdout)["terraform_version"])
    except (ValueError, KeyError):
        return "unknown"


@contextlib.contextmanager
def emulator(log: Path, timeout: float = 180.0) -> Iterator[tuple[str, float]]:
    """`stackprobe serve` as a subprocess: yields (endpoint, seconds to start); stopped with SIGINT."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as errors:
        started = time.monotonic()
        process = subprocess.Popen(
            [str(VENV_BIN / "stackprobe"), "serve", "--port", "0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,
        )
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], timeout)
            endpoint = process.stdout.readline().strip() if ready else ""
            if not endpoint.startswith("http://127.0.0.1:"):
                raise SystemExit(f"bench: `stackprobe serve` printed no loopback endpoint ({endpoint!r}); see {log}")
            yield endpoint, time.monotonic() - started
        finally:
            stop_group(process, 30)


def bare_environ(endpoint: str, cli_config: Path) -> dict[str, str]:
    """The environment stackprobe's own runner gives terraform: pinned to the emulator, nothing else."""
    from stackprobe.backends.guard import pinned_environ
    from stackprobe.settings import DEFAULT_REGION
    from stackprobe.terraform.runner import terraform_environ

    pinned = pinned_environ(os.environ, endpoint=endpoint, region=DEFAULT_REGION, access_key="test", secret_key="test")
    env = terraform_environ(pinned, cli_config)
    env.pop(COMMAND_LOG_ENV, None)
    return env


def write_cli_config(path: Path) -> str:
    """The CLI config stackprobe writes: providers from the filesystem mirror it resolves."""
    from stackprobe.terraform.mirror import resolve_provider_source

    source = resolve_provider_source()
    path.write_text(source.cli_config(), encoding="utf-8")
    return source.description


def copy_stack(target: Path, endpoint: str, *, native: bool) -> Path:
    """terraform/ copied to `target`, with the provider override stackprobe writes (and a local backend).

    For the native peer, also the test-only outputs of bench/native/overlay/ and the test files.
    """
    from stackprobe.terraform.workspace import HEADER, OVERRIDE_NAME, provider_override

    snapshot_stack(target)
    override = "".join(
        provider_override("aws", alias, endpoint, access_key="test", secret_key="test") for alias in (None, "us_east_1")
    )
    override += 'terraform {\n  backend "local" {}\n}\n'
    (target / OVERRIDE_NAME).write_text(HEADER + override, encoding="utf-8")
    if native:
        overlay = NATIVE / "overlay"
        for source in sorted(overlay.rglob("*.tf")):
            destination = target / source.relative_to(overlay)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        tests = target / "tests"
        tests.mkdir(exist_ok=True)
        for source in sorted((NATIVE / "tests").glob("*.tftest.hcl")):
            shutil.copy2(source, tests / source.name)
    return target


def snapshot_stack(target: Path) -> Path:
    """terraform/ as it is now, copied to `target` (without legacy stacks, init directories, state or plans)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        TF_DIR,
        target,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.backup", "*.tfplan", "legacy"),
    )
    return target


def var_arguments(zone_id: str = "ZONE_ID") -> list[str]:
    return [f"-var-file={PROD_VARS}", "-var", TEARDOWN_VAR, "-var", f"route53_zone_id={zone_id}"]


def create_public_zone(endpoint: str) -> str:
    """The hosted zone prod.tfvars names, created in a bare emulator as terraform/prerequisites/public-zone
    does for the harness: bare terraform has no prerequisites step, so its id is passed as a variable."""
    import boto3  # the bench's own venv has it; imported here so `--help` needs nothing but the stdlib

    route53 = boto3.client(
        "route53",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    zone = route53.create_hosted_zone(Name="example.com", CallerReference=f"bench-{time.time_ns()}")
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]
