"""Plan-level checks of issue 26's round, on plans as `terraform show -json` writes them (the parts read):
stateful containers, Lambda log groups, task and execution roles, RDS values AWS rejects or retires, EC2
instance hardening. A value known only after apply is read from the state when the stack was applied."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from plan_builders import context, plan, planned, state, stateful

from stackprobe.checks.base import Severity, Status
from stackprobe.checks.ec2_instances import imdsv2, no_launch_configuration, root_volume_encrypted
from stackprobe.checks.lambda_logs import lambda_log_group
from stackprobe.checks.rds_values import storage_minimum, supported_engine_and_class, version_problem
from stackprobe.checks.roles import task_role_separate
from stackprobe.checks.stateful_containers import stateful_container_storage, stateful_engine
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness


# -- ecs.stateful-container-storage ---------------------------------------------------------------------------


def task(name: str, containers: list[dict[str, Any]], volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return planned(
        f"aws_ecs_task_definition.{name}",
        {"family": name, "container_definitions": json.dumps(containers), "volume": volumes or []},
    )


@pytest.mark.parametrize(
    ("image", "engine"),
    [
        ("postgres:16-alpine", "PostgreSQL"),
        ("public.ecr.aws/docker/library/redis:7", "Redis"),
        ("bitnami/mongodb@sha256:abc", "MongoDB"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:1.0", None),
        ("postgrest/postgrest:v12", None),
    ],
)
def test_stateful_images_are_told_by_their_repository_name(image: str, engine: str | None) -> None:
    assert stateful_engine(image) == engine


def test_a_database_container_without_persistent_storage_fails() -> None:
    app = {"name": "app", "image": "ghcr.io/acme/app:1.2"}
    db = {"name": "db", "image": "postgres:15", "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/tmp"}]}
    cache = {"name": "cache", "image": "redis:7"}
    kept = {
        "name": "db",
        "image": "mysql:8.4",
        "mountPoints": [{"sourceVolume": "data", "containerPath": "/var/lib/mysql"}],
    }
    efs = [{"name": "data", "efs_volume_configuration": [{"file_system_id": "fs-1"}]}]
    result = assert_check(
        context(plan=plan(task("web", [app, db, cache], [{"name": "scratch"}]), task("mysql", [kept], efs))),
        stateful_container_storage,
        Status.FAIL,
    )
    failed = [f.evidence for f in result.findings if not f.passed]
    assert len(failed) == 2  # db and cache; the app is no data store
    assert failed[0].startswith(
        "aws_ecs_task_definition.web: container db runs PostgreSQL (postgres:15) with no persistent volume (its mounts "
        "/tmp are task storage): every deploy or task replacement starts it empty"
    )
    [kept_finding] = [f for f in result.findings if f.passed]
    assert kept_finding.evidence.endswith("keeps /var/lib/mysql on an EFS volume")


def test_container_definitions_known_only_after_apply_are_read_from_the_state() -> None:
    unknown = planned("aws_ecs_task_definition.web", {"family": "web"}, {"container_definitions": True})
    applied = state(
        stateful(
            "aws_ecs_task_definition",
            "web",
            {"container_definitions": json.dumps([{"name": "db", "image": "mongo:7"}])},
        )
    )
    assert_check(context(plan=plan(unknown)), stateful_container_storage, Status.NOT_APPLICABLE)
    assert_check(context(plan=plan(unknown), state=applied), stateful_container_storage, Status.FAIL)


# -- logs.lambda-log-group ---------------------------------------------------------------------------------------


def test_a_function_without_its_log_group_fails() -> None:
    functions = plan(
        planned("aws_lambda_function.thumbnail", {"function_name": "thumbnail"}),
        planned("aws_lambda_function.mailer", {"function_name": "mailer"}),
        planned(
            "aws_lambda_function.custom", {"function_name": "custom", "logging_config": [{"log_group": "/app/fn"}]}
        ),
        planned("aws_cloudwatch_log_group.mailer", {"name": "/aws/lambda/mailer", "retention_in_days": 14}),
        planned("aws_cloudwatch_log_group.custom", {"name": "/app/fn"}),
    )
    result = assert_check(context(plan=functions), lambda_log_group, Status.FAIL)
    by = {str(f.address): f for f in result.findings}
    assert not by["aws_lambda_function.thumbnail"].passed
    assert by["aws_lambda_function.thumbnail"].evidence == (
        "aws_lambda_function.thumbnail (thumbnail) logs to /aws/lambda/thumbnail, which the configuration does not "
        "create: Lambda creates it on the first invocation with no retention, outside Terraform"
    )
    assert by["aws_lambda_function.mailer"].passed and by["aws_lambda_function.custom"].passed


# -- iam.task-role-separate --------------------------------------------------------------------------------------


LAB_ROLE = "arn:aws:iam::123456789012:role/LabRole"


def definition(address: str, task_role: Any, execution_role: Any) -> dict[str, Any]:
    unknown = {k: True for k, v in (("task_role_arn", task_role), ("execution_role_arn", execution_role)) if v is None}
    values = {k: v for k, v in (("task_role_arn", task_role), ("execution_role_arn", execution_role)) if v is not None}
    return planned(address, {"family": address.rsplit(".", 1)[-1], **values}, unknown)


def role_configuration(**references: tuple[list[str], list[str]]) -> dict[str, Any]:
    resources = [
        {
            "address": f"aws_ecs_task_definition.{name}",
            "type": "aws_ecs_task_definition",
            "name": name,
            "expressions": {"task_role_arn": {"references": task}, "execution_role_arn": {"references": execution}},
        }
        for name, (task, execution) in references.items()
    ]
    return {"root_module": {"resources": resources}}


def test_one_role_as_task_and_execution_role_fails_by_value_or_by_reference() -> None:
    roles = plan(
        definition("aws_ecs_task_definition.lab", LAB_ROLE, LAB_ROLE),
        definition("aws_ecs_task_definition.shared", None, None),
        definition("aws_ecs_task_definition.apart", None, None),
        definition("aws_ecs_task_definition.no_task_role", "", LAB_ROLE),
        configuration=role_configuration(
            shared=(["aws_iam_role.ecs.arn", "aws_iam_role.ecs"], ["aws_iam_role.ecs.arn", "aws_iam_role.ecs"]),
            apart=(["aws_iam_role.task.arn", "aws_iam_role.task"], ["aws_iam_role.exec.arn", "aws_iam_role.exec"]),
        ),
    )
    result = assert_check(context(plan=roles), task_role_separate, Status.FAIL)
    by = {str(f.address): f for f in result.findings}
    assert by["aws_ecs_task_definition.lab"].evidence == (
        f"aws_ecs_task_definition.lab: task_role_arn and execution_role_arn are both {LAB_ROLE}: the application's "
        "credentials can pull images and read every injected secret"
    )
    assert not by["aws_ecs_task_definition.shared"].passed
    assert "both aws_iam_role.ecs, aws_iam_role.ecs.arn" in by["aws_ecs_task_definition.shared"].evidence
    assert by["aws_ecs_task_definition.apart"].passed and by["aws_ecs_task_definition.no_task_role"].passed


# -- database.storage-minimum, database.supported-engine-and-class ------------------------------------------------


def db(name: str, **values: Any) -> dict[str, Any]:
    return planned(f"aws_db_instance.{name}", {"engine": "postgres", "instance_class": "db.t4g.micro", **values})


def test_storage_under_the_types_minimum_fails() -> None:
    databases = plan(
        db("tiny", allocated_storage=10),
        db("provisioned", allocated_storage=50, storage_type="io1", iops=3000),
        db("fine", allocated_storage=20, storage_type="gp3"),
        db("replica", replicate_source_db="fine"),
    )
    result = assert_check(context(plan=databases), storage_minimum, Status.FAIL)
    failed = {str(f.address): f.evidence for f in result.findings if not f.passed}
    assert failed == {
        "aws_db_instance.tiny": "aws_db_instance.tiny: postgres on gp2 with allocated_storage = 10 GiB, under the "
        "20 GiB minimum: AWS answers InvalidParameterCombination (the emulator creates it)",
        "aws_db_instance.provisioned": "aws_db_instance.provisioned: postgres on io1 with allocated_storage = 50 GiB, "
        "under the 100 GiB minimum: AWS answers InvalidParameterCombination (the emulator creates it)",
    }


@pytest.mark.parametrize(
    ("engine", "version", "on", "expected"),
    [
        ("postgres", "9.6.24", datetime.date(2026, 1, 1), Severity.HIGH),
        ("mysql", "5.6.51", datetime.date(2026, 1, 1), Severity.HIGH),
        ("mysql", "5.7.44", datetime.date(2024, 3, 1), Severity.MEDIUM),
        ("mysql", "5.7.44", datetime.date(2024, 2, 1), None),
        ("postgres", "12.19", datetime.date(2025, 3, 1), Severity.MEDIUM),
        ("postgres", "16", datetime.date(2026, 1, 1), None),
    ],
)
def test_versions_are_judged_by_the_rds_calendar(
    engine: str, version: str, on: datetime.date, expected: Severity | None
) -> None:
    found = version_problem(engine, version, on)
    assert (found[0] if found else None) is expected


def test_retired_versions_and_classes_fail() -> None:
    databases = plan(
        db("old", engine_version="9.6.24"),
        db("class", engine_version="16", instance_class="db.m3.medium"),
        db("current", engine_version="16.4"),
    )
    result = assert_check(context(plan=databases), supported_engine_and_class, Status.FAIL)
    by = {str(f.address): f for f in result.findings}
    assert by["aws_db_instance.old"].evidence == (
        "aws_db_instance.old: postgres 9.6.24 is retired on RDS: no new instance of it can be created"
    )
    assert by["aws_db_instance.old"].severity is Severity.HIGH
    assert "db.m3.medium is a retired instance class" in by["aws_db_instance.class"].evidence
    assert by["aws_db_instance.current"].passed


def test_a_replica_whose_engine_and_storage_come_from_its_primary_is_judged_through_its_primary() -> None:
    """The sports-commentary scenario's replicas: engine, version and storage are known only after apply (RDS
    copies them from the primary); both checks errored on them (UnknownValueError) instead of judging."""
    inherited = {"engine": True, "engine_version": True, "allocated_storage": True}
    replica = planned(
        "aws_db_instance.replica",
        {"replicate_source_db": "primary", "instance_class": "db.r6g.large"},
        inherited,
    )
    databases = plan(db("primary", allocated_storage=20, engine_version="16"), replica)
    storage = assert_check(context(plan=databases), storage_minimum, Status.PASS)
    assert [str(f.address) for f in storage.findings] == ["aws_db_instance.primary"]
    versions = assert_check(context(plan=databases), supported_engine_and_class, Status.PASS)
    assert {str(f.address): f.evidence for f in versions.findings}["aws_db_instance.replica"] == (
        "aws_db_instance.replica: a replica (its primary's engine and version) on db.r6g.large, supported"
    )
    retired = planned(
        "aws_db_instance.old", {"replicate_source_db": "primary", "instance_class": "db.m3.large"}, inherited
    )
    failed = assert_check(context(plan=plan(retired)), supported_engine_and_class, Status.FAIL)
    assert "db.m3.large is a retired instance class" in failed.findings[0].evidence


# -- ec2.imdsv2, ec2.root-volume-encrypted, ec2.no-launch-configuration ------------------------------------------


def test_instances_allowing_imdsv1_and_unencrypted_roots_fail() -> None:
    compute = plan(
        planned(
            "aws_instance.bastion", {"instance_type": "t3.micro"}, {"metadata_options": True, "root_block_device": True}
        ),
        planned(
            "aws_instance.hardened",
            {"metadata_options": [{"http_tokens": "required"}], "root_block_device": [{"encrypted": True}]},
        ),
        planned(
            "aws_launch_template.ecs", {"metadata_options": [{"http_tokens": "optional"}], "block_device_mappings": []}
        ),
        planned("aws_launch_configuration.old", {"name": "ecs-lc", "root_block_device": [{"encrypted": False}]}),
        planned("aws_autoscaling_group.ecs", {"launch_configuration": "ecs-lc"}),
    )
    imds = assert_check(context(plan=compute), imdsv2, Status.FAIL)
    failed = {str(f.address): f.evidence for f in imds.findings if not f.passed}
    assert sorted(failed) == ["aws_instance.bastion", "aws_launch_configuration.old", "aws_launch_template.ecs"]
    assert failed["aws_instance.bastion"] == (
        'aws_instance.bastion: no http_tokens (AWS\'s default: "optional"): IMDSv1 answers a plain GET, so a request '
        "forgery on the instance returns its role's credentials"
    )
    roots = assert_check(context(plan=compute), root_volume_encrypted, Status.FAIL)
    assert sorted(str(f.address) for f in roots.findings if not f.passed) == sorted(failed)
    launch = assert_check(context(plan=compute), no_launch_configuration, Status.FAIL)
    assert launch.findings[0].evidence.startswith(
        "aws_launch_configuration.old: a launch configuration, used by aws_autoscaling_group.ecs"
    )


def test_account_defaults_the_configuration_sets_count() -> None:
    compute = plan(
        planned("aws_instance.web", {}, {"metadata_options": True, "root_block_device": True}),
        planned("aws_ebs_encryption_by_default.on", {"enabled": True}),
        planned("aws_ec2_instance_metadata_defaults.v2", {"http_tokens": "required"}),
    )
    assert_check(context(plan=compute), imdsv2, Status.PASS)
    assert_check(context(plan=compute), root_volume_encrypted, Status.PASS)
