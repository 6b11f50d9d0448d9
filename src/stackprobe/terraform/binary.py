"""Find the terraform (or OpenTofu) binary and check that its version is one the harness supports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stackprobe.errors import TerraformNotFound

# 1.6 is the first release whose `show -json` carries every field the plan model reads and that both
# Terraform and OpenTofu share; older binaries fail in confusing ways, so they are refused up front.
MINIMUM_VERSION = (1, 6, 0)
BINARY_ENV = "STACKPROBE_TERRAFORM_BINARY"


@dataclass(frozen=True)
class TerraformBinary:
    """A usable binary: its path, its flavour (terraform or tofu), its version, and the platform it runs
    as (`linux_amd64`: the one whose provider packages and lock-file checksums it needs), when it says."""

    path: str
    flavour: str
    version: tuple[int, int, int]
    platform: str | None = None


def _parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        return None
    major, minor, patch = (int(group) for group in match.groups())
    return (major, minor, patch)


def find_binary(name: str | None = None) -> TerraformBinary:
    """Resolve `name` (a path or a command; default: $STACKPROBE_TERRAFORM_BINARY, else `terraform`).

    The version is read from `-version -json` rather than parsed from the banner because the banner
    format differs between Terraform and OpenTofu, while the JSON does not.
    """
    requested = name or os.environ.get(BINARY_ENV) or "terraform"
    path = requested if Path(requested).is_file() else shutil.which(requested)
    if not path:
        raise TerraformNotFound(
            f"The Terraform binary `{requested}` was not found on PATH",
            "install Terraform >= 1.6 (https://developer.hashicorp.com/terraform/install) or OpenTofu, "
            f"or point --stackprobe-terraform / ${BINARY_ENV} at the binary.",
        )
    try:
        completed = subprocess.run([path, "version", "-json"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TerraformNotFound(
            f"`{path} version` could not run",
            "check that the file is an executable Terraform or OpenTofu binary for this platform.",
            detail=str(exc),
        ) from exc
    version: tuple[int, int, int] | None = None
    platform: str | None = None
    try:
        reported = json.loads(completed.stdout)
        version = _parse_version(reported["terraform_version"])
        platform = reported.get("platform") if isinstance(reported.get("platform"), str) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        version = _parse_version(completed.stdout)
    if completed.returncode != 0 or version is None:
        raise TerraformNotFound(
            f"`{path} version` did not report a version",
            "check that the file is an executable Terraform or OpenTofu binary for this platform.",
            detail=(completed.stderr or completed.stdout).strip()[:300],
        )
    flavour = "tofu" if "tofu" in Path(path).name or "OpenTofu" in completed.stdout else "terraform"
    if version < MINIMUM_VERSION:
        wanted = ".".join(str(part) for part in MINIMUM_VERSION)
        raise TerraformNotFound(
            f"{flavour} {'.'.join(map(str, version))} at {path} is older than the supported {wanted}",
            f"install {flavour} {wanted} or newer and put it first on PATH, or pass --stackprobe-terraform.",
        )
    return TerraformBinary(path=path, flavour=flavour, version=version, platform=platform)
