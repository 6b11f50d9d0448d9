"""examples/datastores does what its README says, proven on one deployment.

The example's own pytest session runs in a subprocess, as a user runs it: from its directory, configured only by
its pyproject.toml (containers, `stackprobe_datastores = ["auto"]`), with an emulator of its own. Its tests must
see health.live pass for web and worker with a real PostgreSQL and Redis behind the endpoints, and fail for web
without them (naming --datastore); then datastores_mutant_check.py plants the example's mutant (the database no
longer admits web) in the same deployment, and health.live must fail with the refused connection. One apply
(about 100 s of provider waits: the database, the load balancer, the cache) serves the three verdicts.

Reproduce: .venv/bin/pytest tests/integration/test_datastores_example.py -q -n 0 -p no:cacheprovider -s
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

from stackprobe.datastores.engines import runner_for
from stackprobe.testing import in_background

pytestmark = [pytest.mark.examples, pytest.mark.xdist_group("datastores-example")]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "datastores"
MUTANT_CHECK = Path(__file__).with_name("datastores_mutant_check.py")
TIMEOUT = 900


def example_environment() -> dict[str, str]:
    """This process's environment without what pins it to this session's emulator or xdist worker."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "PYTEST_XDIST", "PYTEST_CURRENT_TEST"))
    }


RUNNERS = (runner_for("postgres", "15"), runner_for("redis", "7"))
MISSING = [runner.missing for runner in RUNNERS if not runner.available]


@pytest.mark.skipif(bool(MISSING), reason="; ".join(MISSING))
def test_health_live_with_and_without_real_datastores_and_with_the_database_refusing_web(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    arguments = ["-c", "pyproject.toml", "--rootdir", ".", "-p", "no:cacheprovider", "-q", "-s"]
    command = [sys.executable, "-m", "pytest", *arguments, "--junitxml", str(junit)]
    command += ["tests/test_datastores.py", str(MUTANT_CHECK)]
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
    print(f"datastores example session: {time.monotonic() - started:.0f} s wall, {cpu:.0f} CPU-s")
    reproduce = f"cd {EXAMPLE.relative_to(REPO)} && {' '.join(command[2:])}"
    output = (completed.stdout + completed.stderr)[-6000:]
    assert completed.returncode == 0, f"reproduce: {reproduce}\n{output}"
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {
        "test_both_services_pass_with_real_datastores_behind_their_endpoints",
        "test_without_datastores_web_fails_and_the_remedy_names_the_option",
        "test_a_database_that_no_longer_admits_web_fails_its_health_check",
    }, output
    verdicts = {
        name: [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        for name, case in cases.items()
    }
    assert verdicts == {name: [] for name in cases}, output
    assert "database-refuses-web: killed by health.live" in completed.stdout, output
