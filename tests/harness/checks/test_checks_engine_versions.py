"""database.engine-version-pinning on plans as `terraform show -json` prints them.

The API only ever reports the full engine version, so the configuration's own value (in the plan) is what
tells a minor pin from a major version.
"""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, Status
from stackprobe.checks.engine_versions import engine_version_pinning, pinned_minor
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness

OFFLINE = AwsBackend("offline (no AWS call is made)", "http://127.0.0.1:9", "eu-west-1", "123456789012")


def _plan(*instances: dict[str, Any]) -> Plan:
    resources = [
        {
            "address": f"aws_db_instance.db{i}",
            "mode": "managed",
            "type": "aws_db_instance",
            "name": f"db{i}",
            "values": {"auto_minor_version_upgrade": True, **values},
        }
        for i, values in enumerate(instances)
    ]
    return Plan({"planned_values": {"root_module": {"resources": resources}}})


@pytest.mark.parametrize(
    ("engine", "version", "pinned"),
    [
        ("postgres", "16", False),
        ("postgres", "16.4", True),
        ("mysql", "8.0", False),
        ("mysql", "8.0.39", True),
        ("oracle-ee", "19.0.0.0.ru-2024-01.rur-2024-01.r1", False),
    ],
)
def test_a_minor_release_is_told_from_a_major_version_per_engine(engine: str, version: str, pinned: bool) -> None:
    assert pinned_minor(engine, version) is pinned


def test_a_pinned_minor_with_automatic_upgrades_fails() -> None:
    plan = _plan({"engine": "postgres", "engine_version": "16.4"}, {"engine": "mysql", "engine_version": "8.0.39"})
    result = run_check(engine_version_pinning, CheckContext(backend=OFFLINE, plan=plan))

    assert result.status == Status.FAIL
    assert [f.passed for f in result.findings] == [False, False]
    assert result.findings[0].evidence == (
        'aws_db_instance.db0: postgres engine_version = "16.4" pins a minor release while minor upgrades are '
        "automatic: the plan after RDS upgrades it proposes a downgrade"
    )


def test_major_versions_and_manual_upgrades_pass_and_replicas_are_left_to_their_source() -> None:
    plan = _plan(
        {"engine": "postgres", "engine_version": "16"},
        {"engine": "mysql", "engine_version": "8.0"},
        {"engine": "mysql", "engine_version": "8.0.39", "auto_minor_version_upgrade": False},
        {"engine": "mysql", "engine_version": "8.0.39", "replicate_source_db": "db1"},
    )
    result = run_check(engine_version_pinning, CheckContext(backend=OFFLINE, plan=plan))

    assert result.status == Status.PASS
    assert len(result.findings) == 3
    assert result.findings[2].evidence == (
        "aws_db_instance.db2: mysql 8.0.39, upgraded by hand (auto_minor_version_upgrade off)"
    )
