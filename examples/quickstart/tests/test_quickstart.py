"""The quickstart service, applied to the embedded AWS emulator: its load balancer's health check passes.

moto runs no container and reports every target as healthy, so that proves nothing. stackprobe runs
`app/web.py` as the task definition's `web` container (pyproject.toml: stackprobe_containers), with the
task's environment and PORT, and sends it the target group's own health check, then the container's.
"""

import pytest

from stackprobe.checks.base import CheckContext
from stackprobe.testing import assert_check

pytestmark = pytest.mark.integration


def test_the_service_passes_its_load_balancer_health_check(check_context: CheckContext) -> None:
    assert_check(check_context, "health.live")
