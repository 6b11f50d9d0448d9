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

from pathlib import Path

import pytest
from example_sessions import REPO, run_example_session

from stackprobe.datastores.engines import runner_for

pytestmark = [pytest.mark.examples, pytest.mark.xdist_group("datastores-example")]

EXAMPLE = REPO / "examples" / "datastores"
MUTANT_CHECK = Path(__file__).with_name("datastores_mutant_check.py")

RUNNERS = (runner_for("postgres", "15"), runner_for("redis", "7"))
MISSING = [runner.missing for runner in RUNNERS if not runner.available]


@pytest.mark.skipif(bool(MISSING), reason="; ".join(MISSING))
def test_health_live_with_and_without_real_datastores_and_with_the_database_refusing_web(tmp_path: Path) -> None:
    session = run_example_session(EXAMPLE, ["tests/test_datastores.py", str(MUTANT_CHECK)], tmp_path)
    output = session.output
    assert session.returncode == 0, f"reproduce: {session.reproduce}\n{output}"
    assert set(session.verdicts) == {
        "test_both_services_pass_with_real_datastores_behind_their_endpoints",
        "test_without_datastores_web_fails_and_the_remedy_names_the_option",
        "test_a_database_that_no_longer_admits_web_fails_its_health_check",
    }, output
    assert session.verdicts == {name: [] for name in session.verdicts}, output
    assert "database-refuses-web: killed by health.live" in session.stdout, output
