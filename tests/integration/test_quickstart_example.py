"""The quickstart (examples/quickstart) does what its README says, proven on one deployment.

The quickstart's own pytest session runs in a subprocess, as a user runs it: from its directory,
configured only by its pyproject.toml (`stackprobe_tf_dir = "."`, `stackprobe_containers`), with an
emulator of its own. Its tests/test_quickstart.py must see health.live pass; then
quickstart_mutant_check.py plants the quickstart's mutant (the target group asks /health) in the same
deployment and must see health.live fail with the 404 the app answers. One apply of the load balancer
(about 60 s of provider waits) serves both verdicts; the subprocess runs niced, beside the reference stack.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stackprobe.testing import in_background

pytestmark = [pytest.mark.examples, pytest.mark.xdist_group("quickstart-example")]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "quickstart"
MUTANT_CHECK = Path(__file__).with_name("quickstart_mutant_check.py")
TIMEOUT = 900


def example_environment() -> dict[str, str]:
    """This process's environment without what pins it to this session's emulator or xdist worker:
    the example's session starts its own emulator, as a user's would."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "PYTEST_XDIST", "PYTEST_CURRENT_TEST"))
    }


def test_health_live_passes_on_the_quickstart_and_fails_on_its_mutant(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    arguments = ["-c", "pyproject.toml", "--rootdir", ".", "-p", "no:cacheprovider", "-q", "-s"]
    command = [sys.executable, "-m", "pytest", *arguments, "--junitxml", str(junit)]
    command += ["tests/test_quickstart.py", str(MUTANT_CHECK)]
    started, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        in_background(command),
        cwd=EXAMPLE,
        env=example_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"quickstart session: {time.monotonic() - started:.0f} s wall, {cpu:.0f} CPU-s")
    reproduce = f"cd {EXAMPLE.relative_to(REPO)} && {' '.join(command[2:])}"
    output = (completed.stdout + completed.stderr)[-6000:]
    assert completed.returncode == 0, f"reproduce: {reproduce}\n{output}"
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {
        "test_the_service_passes_its_load_balancer_health_check",
        "test_a_health_check_path_the_app_does_not_serve_fails_health_live",
    }, output
    verdicts = {
        name: [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        for name, case in cases.items()
    }
    assert verdicts == {name: [] for name in cases}, output
    assert "health-check-path-404: killed by health.live" in completed.stdout, output
