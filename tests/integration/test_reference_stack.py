"""The reference stack, applied once to the embedded moto, proves the design card's promises.

Each test runs one catalogue check against the deployed account and asserts it passes; the check's
docstring and evidence say what was proved, and its fidelity says how (`config`: the deployed
configuration read back; `behaviour`: exercised live). That every one of these checks fails on the
defect it guards is proved by the mutants (tests/mutants/) and by tests/harness/checks/.
"""

from __future__ import annotations

import pytest

from stackprobe.checks.base import CheckContext, Fidelity, Status
from stackprobe.terraform.drift import DriftReport
from stackprobe.testing import assert_check

pytestmark = pytest.mark.integration


def test_second_plan_is_empty_apart_from_known_emulator_drift(stack_drift: DriftReport) -> None:
    """Idempotency first, before any test could touch the stack. Known emulator drift is listed, not failed."""
    assert stack_drift.idempotent, stack_drift.render()


# 1. Private, encrypted S3 ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "check_id",
    ["s3.public-access-block", "s3.encryption-kms", "s3.versioning", "s3.no-public-access", "s3.tls-only"],
)
def test_buckets_are_private_and_encrypted(check_context: CheckContext, check_id: str) -> None:
    assert_check(check_context, check_id)


def test_presigned_upload_lands_encrypted_with_the_stack_key(check_context: CheckContext) -> None:
    result = assert_check(check_context, "s3.presigned-upload")
    assert result.check.fidelity == Fidelity.BEHAVIOUR


# 2. Network intent -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "check_id",
    [
        "network.internet-reaches-only-lb",
        "network.service-only-from-lb",
        "network.data-only-from-service",
        "network.no-world-ingress",
        "network.private-egress",
        "network.multi-az",
        "network.default-sg-locked",
        "network.ecs-no-public-ip",
    ],
)
def test_network_allows_only_the_intended_paths(check_context: CheckContext, check_id: str) -> None:
    assert_check(check_context, check_id)


# 3. A health check that really works -------------------------------------------------------------
def test_health_check_settings_agree(check_context: CheckContext) -> None:
    assert_check(check_context, "health.consistency")


def test_health_check_passes_against_the_app_started_as_deployed(check_context: CheckContext) -> None:
    """moto reports every target healthy; this runs the app with the task definition's env and checks it."""
    result = assert_check(check_context, "health.live")
    assert result.check.fidelity == Fidelity.BEHAVIOUR


# 4. Autoscaling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("check_id", ["autoscaling.scalable-target", "autoscaling.target-tracking"])
def test_services_scale(check_context: CheckContext, check_id: str) -> None:
    assert_check(check_context, check_id)


# 5. RDS backups, durability and the connection budget --------------------------------------------
@pytest.mark.parametrize(
    "check_id",
    [
        "database.backup-retention",
        "database.backup-window",
        "database.copy-tags-to-snapshot",
        "database.encryption",
        "database.multi-az-prod",
        "database.deletion-protection-prod",
        "database.final-snapshot-prod",
        "database.not-public",
        "database.backup-plan",
        "database.connection-budget",
        "database.connections-alarm",
    ],
)
def test_database_is_durable_and_sized(check_context: CheckContext, check_id: str) -> None:
    assert_check(check_context, check_id)


# 8. End to end on the emulator -------------------------------------------------------------------
def test_a_job_goes_from_the_api_through_the_queue_to_a_result(check_context: CheckContext) -> None:
    assert_check(check_context, "jobs.end-to-end")


def test_a_poison_job_lands_in_the_dead_letter_queue(check_context: CheckContext) -> None:
    assert_check(check_context, "jobs.dead-letter")


# 9. Least privilege, where moto can enforce it ---------------------------------------------------
def test_task_roles_can_do_their_job_and_nothing_else(check_context: CheckContext) -> None:
    assert_check(check_context, "iam.enforced-least-privilege")


@pytest.mark.parametrize(
    "check_id", ["iam.no-wildcard-admin", "iam.no-wildcard-actions", "iam.task-role-least-privilege"]
)
def test_iam_policies_are_scoped(check_context: CheckContext, check_id: str) -> None:
    assert_check(check_context, check_id)


# Beyond the card: the rest of the production bar --------------------------------------------------
@pytest.mark.parametrize(
    "check_id",
    [
        "edge.https-only",
        "edge.tls-policy",
        "edge.load-balancer-hardening",
        "edge.service-behind-load-balancer",
        "deployment.circuit-breaker",
        "deployment.zero-downtime",
        "queue.dead-letter",
        "queue.encryption",
        "kms.rotation",
        "ecr.immutable-tags",
        "ecr.scan-on-push",
        "logs.retention",
        "secrets.no-plaintext-in-task-env",
        "secrets.no-hardcoded-db-password",
        "alarms.coverage",
        "capacity.burstable-database-prod",
    ],
)
def test_production_bar(check_context: CheckContext, check_id: str) -> None:
    assert_check(check_context, check_id)


@pytest.mark.parametrize("check_id", ["iam.no-long-lived-keys", "cost.large-always-on-instance"])
def test_what_the_legacy_stacks_got_wrong_is_not_there_at_all(check_context: CheckContext, check_id: str) -> None:
    """The fix for an IAM user with keys (CI federates through OIDC) and for an always-on GPU instance
    (jobs run as Fargate tasks) is that the thing does not exist: not applicable, rather than passing."""
    assert_check(check_context, check_id, Status.NOT_APPLICABLE)
