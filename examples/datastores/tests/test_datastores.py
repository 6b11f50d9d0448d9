"""The example, applied to the embedded AWS emulator: with real servers behind its database and cache, both
services pass health.live; without them, web's health check fails and the remedy names --datastore.

pyproject.toml says how to run the containers (stackprobe_containers) and asks for the servers
(stackprobe_datastores = ["auto"]): a PostgreSQL 15 and a Redis 7 with the stack's AUTH token, over TLS.
"""

from dataclasses import replace

import pytest

from stackprobe.checks import run_checks
from stackprobe.checks.base import CheckContext
from stackprobe.checks.health import live
from stackprobe.testing import assert_check

pytestmark = pytest.mark.integration


def test_both_services_pass_with_real_datastores_behind_their_endpoints(check_context: CheckContext) -> None:
    assert_check(check_context, "health.live")
    evidence = " ".join(f.evidence for f in run_checks(check_context, [live])[0].findings)
    assert "standing in for aws_db_instance.main" in evidence
    assert "standing in for aws_elasticache_replication_group.cache" in evidence


def test_without_datastores_web_fails_and_the_remedy_names_the_option(check_context: CheckContext) -> None:
    result = run_checks(replace(check_context, datastores=None), [live])[0]
    web = next(f for f in result.findings if "shop-web" in f.evidence and not f.passed)
    assert "run with --datastore auto" in web.evidence
