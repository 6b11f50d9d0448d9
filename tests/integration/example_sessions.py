"""Run what a user runs, in a subprocess of its own: an example's own pytest session, or `stackprobe`.

Not a test module: the example tests (test_quickstart_example.py, test_datastores_example.py) and the
look-alike repositories' test share it.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from stackprobe.testing import in_background

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 900


def user_environment() -> dict[str, str]:
    """This process's environment without what pins it to this session's emulator or xdist worker: the user's
    run starts an emulator of its own."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "PYTEST_XDIST", "PYTEST_CURRENT_TEST"))
    }


@dataclass(frozen=True)
class ExampleSession:
    """How an example's pytest session ended: its output, the command that reproduces it, and each test's
    verdicts (failure, error, skipped; none for a pass) from its JUnit report."""

    returncode: int
    stdout: str
    output: str  # the tail of stdout and stderr, for assertion messages
    reproduce: str
    verdicts: dict[str, list[str]]


def run_example_session(example: Path, tests: list[str], tmp_path: Path) -> ExampleSession:
    """The example's own pytest session, from its directory, configured only by its pyproject.toml, niced."""
    junit = tmp_path / "junit.xml"
    arguments = ["-c", "pyproject.toml", "--rootdir", ".", "-p", "no:cacheprovider", "-q", "-s"]
    command = [sys.executable, "-m", "pytest", *arguments, "--junitxml", str(junit), *tests]
    started, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        in_background(command),
        cwd=example,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{example.name} session: {time.monotonic() - started:.0f} s wall, {cpu:.0f} CPU-s")
    cases = ET.parse(junit).getroot().iter("testcase") if junit.exists() else iter(())
    verdicts = {
        str(case.get("name")): [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        for case in cases
    }
    return ExampleSession(
        returncode=completed.returncode,
        stdout=completed.stdout,
        output=(completed.stdout + completed.stderr)[-6000:],
        reproduce=f"cd {example.relative_to(REPO)} && {' '.join(command[2:])}",
        verdicts=verdicts,
    )
