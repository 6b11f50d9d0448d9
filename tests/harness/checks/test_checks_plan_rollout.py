"""edge.waf-load-test and database.replica-after-password-switch on plans as `terraform show -json` prints them.

Both judge what a plan says before anything is applied: the WAF rules a stack will have against the load its
repository's own load test sends (read from its locust.conf and locustfile), and read replicas created in the
apply that switches their primary's master password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, Status
from stackprobe.checks.replica_rollout import replica_after_password_switch
from stackprobe.checks.waf_load import find_load_test, waf_load_test
from stackprobe.terraform.plan import Plan
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

OFFLINE = AwsBackend("offline (no AWS call is made)", "http://127.0.0.1:9", "eu-west-1", "123456789012")
REPO = Path(__file__).resolve().parents[3]
LOCUSTFILE = """
from locust import HttpUser, between, task


class Viewer(HttpUser):
    wait_time = between(2, 3)

    @task
    def poll(self) -> None:
        self.client.get("/job/1/results")
"""


def repository(tmp_path: Path, users: int = 5000) -> Path:
    """A repository with a Terraform configuration in infra/ and a Locust load test in loadtest/."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "infra").mkdir()
    (tmp_path / "loadtest").mkdir()
    (tmp_path / "loadtest" / "locustfile.py").write_text(LOCUSTFILE)
    (tmp_path / "loadtest" / "locust.conf").write_text(
        f"# the run\nlocustfile = loadtest/locustfile.py\nusers = {users}\nspawn-rate = 50\n"
    )
    return tmp_path / "infra"


def rate_rule(limit: int, *, exempt: bool, action: str = "block") -> dict[str, Any]:
    scope = (
        [{"not_statement": [{"statement": [{"ip_set_reference_statement": [{"arn": "arn:aws:wafv2:ipset/x"}]}]}]}]
        if exempt
        else []
    )
    return {
        "name": "rate-limit-per-ip",
        "priority": 30,
        "action": [{"block": [{}] if action == "block" else [], "count": [{}] if action == "count" else []}],
        "statement": [
            {
                "rate_based_statement": [
                    {
                        "limit": limit,
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": 300,
                        "scope_down_statement": scope,
                    }
                ],
                "managed_rule_group_statement": [],
            }
        ],
    }


def waf_plan(*rules: dict[str, Any]) -> Plan:
    resource = {
        "address": "module.edge.aws_wafv2_web_acl.this[0]",
        "mode": "managed",
        "type": "aws_wafv2_web_acl",
        "name": "this",
        "values": {"name": "sp", "rule": list(rules)},
    }
    return Plan({"planned_values": {"root_module": {"resources": [resource]}}})


def test_the_repositorys_own_load_test_is_read_from_its_configuration() -> None:
    found = find_load_test(REPO / "terraform")
    assert found is not None
    assert (found.config, found.users, found.interval) == (REPO / "loadtest" / "locust.conf", 5000, 2.0)
    assert found.source == "locustfile.py: wait_time = between(2, 3)"


def test_a_rate_limit_below_the_load_test_without_an_exemption_fails(tmp_path: Path) -> None:
    source = repository(tmp_path)
    context = CheckContext(backend=OFFLINE, plan=waf_plan(rate_rule(10000, exempt=False)), source_dir=source)
    result = assert_check(context, waf_load_test, Status.FAIL)
    [finding] = result.findings
    assert finding.evidence == (
        "module.edge.aws_wafv2_web_acl.this[0] rule rate-limit-per-ip: limit 10,000 per 300 s per address; the "
        "load test sends up to 750,000 from one generator (loadtest/locust.conf: 5000 users, one request each "
        "every 2 s at the fastest (locustfile.py: wait_time = between(2, 3))), and no exemption: WAF blocks the "
        "test within seconds, which then measures 403s"
    )


@pytest.mark.parametrize(
    ("rule", "users", "expected"),
    [
        (rate_rule(10000, exempt=True), 5000, "the rule leaves out an IP set"),
        (rate_rule(10000, exempt=False), 50, "limit 10,000 per 300 s per address; the load test sends up to 7,500"),
    ],
)
def test_an_exempt_generator_or_a_load_within_the_limit_passes(
    tmp_path: Path, rule: dict[str, Any], users: int, expected: str
) -> None:
    context = CheckContext(backend=OFFLINE, plan=waf_plan(rule), source_dir=repository(tmp_path, users))
    result = run_check(waf_load_test, context)
    assert result.status == Status.PASS, result.findings
    assert expected in result.findings[0].evidence


def test_a_counting_rule_blocks_nothing_and_is_not_judged(tmp_path: Path) -> None:
    context = CheckContext(
        backend=OFFLINE, plan=waf_plan(rate_rule(100, exempt=False, action="count")), source_dir=repository(tmp_path)
    )
    assert run_check(waf_load_test, context).status == Status.NOT_APPLICABLE


def test_without_a_load_test_there_is_nothing_to_compare(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    context = CheckContext(backend=OFFLINE, plan=waf_plan(rate_rule(100, exempt=False)), source_dir=tmp_path)
    result = run_check(waf_load_test, context)
    assert result.status == Status.NOT_APPLICABLE
    assert "no load-test configuration" in result.not_applicable_reason


def _change(address: str, actions: list[str], before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_db_instance",
        "name": address.rsplit(".", 1)[-1],
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}},
    }


def db_plan(*changes: dict[str, Any]) -> Plan:
    """Resource changes, and the planned values a plan holds beside them (what the check registry looks for)."""
    resources = [
        {
            "address": c["address"],
            "mode": "managed",
            "type": c["type"],
            "name": c["name"],
            "values": c["change"]["after"],
        }
        for c in changes
    ]
    return Plan({"planned_values": {"root_module": {"resources": resources}}, "resource_changes": list(changes)})


PRIMARY = "module.database.aws_db_instance.this[0]"
REPLICA = "module.database.aws_db_instance.replica[0]"
MANAGED = {"identifier": "sp-prod", "manage_master_user_password": True, "password_wo_version": None}
STACK_MANAGED = {"identifier": "sp-prod", "manage_master_user_password": None, "password_wo_version": 1}


def test_a_replica_created_with_its_primarys_password_switch_fails() -> None:
    plan = db_plan(
        _change(PRIMARY, ["update"], MANAGED, STACK_MANAGED),
        _change(REPLICA, ["create"], None, {"identifier": "sp-prod-replica-1", "replicate_source_db": "sp-prod"}),
    )
    result = assert_check(CheckContext(backend=OFFLINE, plan=plan), replica_after_password_switch, Status.FAIL)
    assert result.findings[0].evidence == (
        f"{REPLICA} is created in the plan that updates its primary {PRIMARY} (manage_master_user_password true → "
        "false): RDS is still switching the primary's password when the replica is requested"
    )


@pytest.mark.parametrize(
    "primary",
    [
        _change(PRIMARY, ["no-op"], STACK_MANAGED, STACK_MANAGED),  # switched in an earlier apply
        _change(PRIMARY, ["create"], None, STACK_MANAGED),  # a new database, replicas with it
        _change(
            PRIMARY, ["update"], {**STACK_MANAGED, "instance_class": "a"}, {**STACK_MANAGED, "instance_class": "b"}
        ),
    ],
)
def test_a_replica_of_a_primary_whose_password_stays_passes(primary: dict[str, Any]) -> None:
    replica = _change(REPLICA, ["create"], None, {"identifier": "sp-prod-replica-1", "replicate_source_db": "sp-prod"})
    result = run_check(replica_after_password_switch, CheckContext(backend=OFFLINE, plan=db_plan(primary, replica)))
    assert result.status == Status.PASS, result.findings
