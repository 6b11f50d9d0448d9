"""The quickstart (examples/quickstart) does what its README says, proven on one deployment.

The quickstart's own pytest session runs in a subprocess, as a user runs it: from its directory,
configured only by its pyproject.toml (`stackprobe_tf_dir = "."`, `stackprobe_containers`), with an
emulator of its own. Its tests/test_quickstart.py must see health.live pass; then
quickstart_mutant_check.py plants the quickstart's mutant (the target group asks /health) in the same
deployment and must see health.live fail with the 404 the app answers. One apply of the load balancer
(about 60 s of provider waits) serves both verdicts; the subprocess runs niced, beside the reference stack.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from example_sessions import REPO, run_example_session

pytestmark = [pytest.mark.examples, pytest.mark.xdist_group("quickstart-example")]

EXAMPLE = REPO / "examples" / "quickstart"
MUTANT_CHECK = Path(__file__).with_name("quickstart_mutant_check.py")


def test_health_live_passes_on_the_quickstart_and_fails_on_its_mutant(tmp_path: Path) -> None:
    session = run_example_session(EXAMPLE, ["tests/test_quickstart.py", str(MUTANT_CHECK)], tmp_path)
    output = session.output
    assert session.returncode == 0, f"reproduce: {session.reproduce}\n{output}"
    assert set(session.verdicts) == {
        "test_the_service_passes_its_load_balancer_health_check",
        "test_a_health_check_path_the_app_does_not_serve_fails_health_live",
    }, output
    assert session.verdicts == {name: [] for name in session.verdicts}, output
    assert "health-check-path-404: killed by health.live" in session.stdout, output
