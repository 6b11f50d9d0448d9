"""The plan model: unknown values, nested modules, partial expectations and per-attribute diffs."""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.compat.base import KnownDrift
from stackprobe.terraform.drift import classify
from stackprobe.terraform.plan import Plan, Unknown, subset_mismatches

pytestmark = pytest.mark.harness

PLAN: dict[str, Any] = {
    "planned_values": {
        "root_module": {
            "resources": [
                {
                    "address": "aws_s3_bucket.models",
                    "mode": "managed",
                    "type": "aws_s3_bucket",
                    "name": "models",
                    "values": {"bucket": "models", "force_destroy": False, "tags": {"Environment": "prod"}},
                },
            ],
            "child_modules": [
                {
                    "address": "module.db",
                    "resources": [
                        {
                            "address": "module.db.aws_db_instance.this",
                            "mode": "managed",
                            "type": "aws_db_instance",
                            "name": "this",
                            "values": {
                                "engine": "postgres",
                                "backup_retention_period": 14,
                                "vpc_security_group_ids": ["sg-1"],
                            },
                        },
                    ],
                }
            ],
        },
        "outputs": {"bucket": {"value": "models"}, "endpoint": {"sensitive": False}},
    },
    "resource_changes": [
        {
            "address": "aws_s3_bucket.models",
            "mode": "managed",
            "type": "aws_s3_bucket",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"bucket": "models"},
                "after_unknown": {"arn": True, "id": True},
            },
        },
        {
            "address": "module.db.aws_db_instance.this",
            "mode": "managed",
            "type": "aws_db_instance",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"engine": "postgres"},
                "after_unknown": {"endpoint": True},
            },
        },
    ],
}


def test_resources_flatten_modules_and_mark_unknowns() -> None:
    plan = Plan(PLAN)
    assert [r.address for r in plan.resources()] == ["aws_s3_bucket.models", "module.db.aws_db_instance.this"]
    db = plan.resource("module.db.aws_db_instance.this")
    assert db.module == "module.db"
    assert db.get("endpoint") is Unknown
    assert db.get("vpc_security_group_ids.0") == "sg-1"
    assert plan.count("aws_db_*") == 1
    assert plan.outputs() == {"bucket": "models", "endpoint": Unknown}


def test_unknown_address_lists_what_exists() -> None:
    with pytest.raises(KeyError, match=r"aws_s3_bucket\.models"):
        Plan(PLAN).resource("aws_s3_bucket.nope")


def test_partial_expectations_ignore_unlisted_attributes() -> None:
    values = Plan(PLAN).resource("module.db.aws_db_instance.this").values
    assert subset_mismatches(values, {"engine": "postgres", "backup_retention_period": 14}) == []
    assert subset_mismatches(values, {"backup_retention_period": 7}) == [
        "backup_retention_period: expected 7, found 14"
    ]
    assert subset_mismatches(values, {"multi_az": True}) == ["multi_az: missing (expected True)"]


def _second_plan(*changes: dict[str, Any]) -> Plan:
    return Plan({"resource_changes": list(changes)})


def _update(address: str, type_: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": address,
        "type": type_,
        "mode": "managed",
        "change": {"actions": ["update"], "before": before, "after": after, "after_unknown": {}},
    }


RECORDS = [KnownDrift("aws_sqs_queue", "redrive_policy", "moto re-serialises the JSON", ">=5.0")]


def test_known_emulator_drift_is_classified_with_its_reason() -> None:
    plan = _second_plan(
        _update("aws_sqs_queue.jobs", "aws_sqs_queue", {"redrive_policy": '{"a": 1}'}, {"redrive_policy": '{"a":1}'})
    )
    report = classify(plan, records=RECORDS)
    assert report.idempotent
    assert [e.address for e in report.emulator] == ["aws_sqs_queue.jobs"]
    assert "re-serialises" in report.render()


def test_real_drift_next_to_known_drift_still_fails() -> None:
    plan = _second_plan(
        _update(
            "aws_sqs_queue.jobs",
            "aws_sqs_queue",
            {"redrive_policy": '{"a": 1}', "visibility_timeout_seconds": 30},
            {"redrive_policy": '{"a":1}', "visibility_timeout_seconds": 300},
        )
    )
    report = classify(plan, records=RECORDS)
    assert not report.idempotent
    assert "visibility_timeout_seconds: 30 → 300" in report.render()


def test_replacement_is_never_emulator_drift() -> None:
    change = _update("aws_sqs_queue.jobs", "aws_sqs_queue", {"redrive_policy": "x"}, {"redrive_policy": "y"})
    change["change"]["actions"] = ["delete", "create"]
    assert not classify(_second_plan(change), records=RECORDS).idempotent


def test_drift_records_do_not_apply_to_other_backends() -> None:
    plan = _second_plan(
        _update("aws_sqs_queue.jobs", "aws_sqs_queue", {"redrive_policy": "x"}, {"redrive_policy": "y"})
    )
    assert not classify(plan, moto_records=False, records=RECORDS).idempotent


def test_a_value_known_only_after_apply_compares_and_refuses_to_be_read() -> None:
    """`tf_plan` users meet it as container_definitions or an ARN: it says what it is, never a private TypeError."""
    from stackprobe.terraform.plan import KnownAfterApply, UnknownValueError

    assert Unknown is KnownAfterApply() and Unknown == Unknown and Unknown != "arn:aws:..." and Unknown is not None
    assert repr(Unknown) == "(known after apply)"
    for use in (lambda: Unknown[0], lambda: list(Unknown), lambda: len(Unknown), lambda: "x" in Unknown):
        with pytest.raises(UnknownValueError, match=r"known only after apply.*deployed_stack"):
            use()
    with pytest.raises(TypeError):  # it is a TypeError too, for callers that catch those
        int(Unknown)
