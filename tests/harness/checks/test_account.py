"""stackprobe.aws.account: one snapshot per check context, each read made once, queried by resource type.

And what the registry does with it: a check whose resource types are not there is "not applicable" with
the types named, unrun; the context is frozen, and the lifecycle's records reach a new one. The teardown
inventory lists the emulator through the same readers.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field, replace
from typing import Any

import pytest

from stackprobe.aws.account import Account
from stackprobe.aws.clients import AwsClients
from stackprobe.aws.inventory import leftovers, snapshot
from stackprobe.aws.readers.base import ReadOnce
from stackprobe.backends.base import AwsBackend
from stackprobe.checks import CHECKS, run_check
from stackprobe.checks.base import CheckContext, Holder, Status
from stackprobe.checks.engine_versions import engine_version_pinning
from stackprobe.checks.first_apply import certificate_validation_path
from stackprobe.checks.lifecycle import idempotent
from stackprobe.terraform.drift import DriftReport
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness

OFFLINE = AwsBackend("offline (no AWS call is made)", "http://127.0.0.1:9", "eu-west-1", "123456789012")


class _Counted:
    """A boto3 client (or paginator) that counts each request by operation and arguments."""

    def __init__(self, real: Any, calls: Counter[str], label: str) -> None:
        self._real, self._calls, self._label = real, calls, label

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if not callable(attribute) or name in ("can_paginate",):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            if name == "get_paginator":
                return _Counted(attribute(*args, **kwargs), self._calls, f"{self._label}.{args[0]}")
            operation = self._label if name == "paginate" else f"{self._label}.{name}"
            self._calls[f"{operation}{sorted(kwargs.items())}"] += 1
            return attribute(*args, **kwargs)

        return counted


@dataclass(frozen=True)
class CountingBackend(AwsBackend):
    calls: Counter[str] = field(default_factory=Counter, compare=False)

    def client(self, service: str, region_name: str | None = None) -> Any:
        return _Counted(super().client(service, region_name), self.calls, service)


def _counting(backend: AwsBackend) -> CountingBackend:
    return CountingBackend(backend.name, backend.endpoint, backend.region, backend.account_id)


def _database(backend: AwsBackend, identifier: str) -> None:
    backend.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
    )


def test_every_check_of_a_context_shares_each_read(clean_backend: AwsBackend) -> None:
    """Eleven database checks, the alarm and capacity checks and the network model all need
    DescribeDBInstances: one context asks it once, and asks nothing twice."""
    _database(clean_backend, "orders")
    backend = _counting(clean_backend)
    context = CheckContext(backend=backend)

    results = [run_check(item, context) for item in CHECKS]

    assert not [r.error for r in results if r.error]
    readers_of_instances = [r for r in results if "aws_db_instance" in r.check.reads and r.findings]
    assert len(readers_of_instances) > 10
    assert backend.calls["rds.describe_db_instances[]"] == 1
    assert max(backend.calls.values()) == 1, backend.calls.most_common(3)


def test_a_new_context_reads_the_account_again(clean_backend: AwsBackend) -> None:
    before = CheckContext(backend=clean_backend)
    assert not before.account.holds("aws_db_instance")
    _database(clean_backend, "later")

    assert not before.account.holds("aws_db_instance")  # one context is one moment
    assert CheckContext(backend=clean_backend).account.holds("aws_db_instance")


def test_a_service_the_backend_does_not_serve_holds_nothing() -> None:
    # Nothing listens at the endpoint: any request would fail, so an empty answer proves none was made.
    s3_only = replace(OFFLINE, services=frozenset({"s3"}))
    account = Account(AwsClients(s3_only))

    assert account.rds.instances() == ()
    assert not account.holds("aws_ecs_service")


def test_a_read_is_made_once_however_many_threads_ask_at_once() -> None:
    once, made = ReadOnce(), Counter[str]()

    def slow() -> str:
        made["read"] += 1
        time.sleep(0.05)
        return "answer"

    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(once.get("key", slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == ["answer"] * 8 and made["read"] == 1


def test_a_failed_read_is_kept_and_raised_to_every_caller() -> None:
    once, made = ReadOnce(), Counter[str]()

    def failing() -> str:
        made["read"] += 1
        raise ValueError("the emulator said no")

    for _ in range(3):
        with pytest.raises(ValueError, match="the emulator said no"):
            once.get("key", failing)
    assert made["read"] == 1


def test_the_account_is_queried_by_terraform_resource_type(clean_backend: AwsBackend) -> None:
    _database(clean_backend, "orders")
    account = CheckContext(backend=clean_backend).account

    assert [db.identifier for db in account.resources("aws_db_instance")] == ["orders"]  # type: ignore[attr-defined]
    with pytest.raises(KeyError, match="does not read aws_dynamodb_table"):
        account.resources("aws_dynamodb_table")


@pytest.mark.parametrize(
    ("context", "check", "reason"),
    [
        (lambda: CheckContext(backend=OFFLINE, state={"resources": []}), certificate_validation_path,
         "no aws_acm_certificate in the Terraform state"),
        (lambda: CheckContext(backend=OFFLINE, plan=Plan({"planned_values": {"root_module": {}}})),
         engine_version_pinning, "no aws_db_instance or aws_rds_cluster planned"),
    ],
)  # fmt: skip
def test_a_check_with_nothing_of_its_types_is_not_applicable_unrun(
    context: Callable[[], CheckContext], check: Any, reason: str
) -> None:
    result = run_check(check, context())

    assert result.status is Status.NOT_APPLICABLE
    assert result.not_applicable_reason == reason


def test_a_deployed_check_names_the_types_it_found_none_of(clean_backend: AwsBackend) -> None:
    from stackprobe.checks.database import backup_retention

    result = run_check(backup_retention, CheckContext(backend=clean_backend))

    assert backup_retention.holder is Holder.ACCOUNT
    assert (result.status, result.not_applicable_reason) == (Status.NOT_APPLICABLE, "no aws_db_instance deployed")


def test_the_context_is_frozen_and_the_lifecycle_records_are_given_to_a_new_one() -> None:
    context = CheckContext(backend=OFFLINE)
    drift = DriftReport()
    with pytest.raises(FrozenInstanceError):
        context.drift = drift  # type: ignore[misc]

    judged = replace(context, drift=drift)

    assert judged.drift is drift and context.drift is None
    assert run_check(idempotent, judged).findings[0].evidence == "the second plan is empty"
    assert run_check(idempotent, context).status is Status.NOT_APPLICABLE


def test_the_teardown_inventory_lists_through_the_readers(clean_backend: AwsBackend) -> None:
    before, unlisted = snapshot(clean_backend)
    assert unlisted == []
    clean_backend.client("s3").create_bucket(
        Bucket="left-behind", CreateBucketConfiguration={"LocationConstraint": clean_backend.region}
    )
    queue = clean_backend.client("sqs").create_queue(QueueName="left-behind")["QueueUrl"]
    _database(clean_backend, "left-behind")

    after, _ = snapshot(clean_backend)

    assert leftovers(before, after) == {
        "s3 bucket@global": {"left-behind"},
        f"sqs queue@{clean_backend.region}": {queue},
        f"db instance@{clean_backend.region}": {"left-behind"},
    }
