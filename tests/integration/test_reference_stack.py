"""The reference stack, applied once to the embedded moto, proves the design card's promises.

Each test runs one catalogue check against the deployed account and asserts it passes; the check's
docstring and evidence say what was proved, and its fidelity says how (`config`: the deployed
configuration read back; `behaviour`: exercised live). That every one of these checks fails on the
defect it guards is proved by the mutants (tests/mutants/) and by tests/harness/checks/.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from stackprobe.aws.environment import environment_decision
from stackprobe.aws.workloads import discover_workloads
from stackprobe.checks.base import CheckContext, Fidelity, Status
from stackprobe.terraform.drift import DriftReport
from stackprobe.testing import assert_check

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_second_plan_is_empty_apart_from_known_emulator_drift(stack_drift: DriftReport) -> None:
    """Idempotency first, before any test could touch the stack. Known emulator drift is listed, not failed."""
    assert stack_drift.idempotent, stack_drift.render()


# 1. Private, encrypted S3 ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "check_id",
    [
        "s3.public-access-block",
        "s3.encryption-kms",
        "s3.versioning",
        "s3.no-public-access",
        "s3.tls-only",
        "s3.access-logging",
    ],
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
        "network.flow-logs",
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
        "ecs.container-insights-prod",
        "ecs.image-provenance-prod",
        "ecs.container-health-check",
        "secrets.customer-key",
    ],
)
def test_production_bar(check_context: CheckContext, check_id: str) -> None:
    assert_check(check_context, check_id)


# Issue 19: what the first real apply, a rotation, a load test or an incident would have found ----------
@pytest.mark.parametrize(
    "check_id",
    [
        "deployment.listener-before-service",
        "deployment.certificate-validation-path",
        "capacity.unconsumed",
        "database.master-credentials",
        "database.engine-version-pinning",
        "alarms.stateful-components",
        "alarms.error-rate-below-slo",
    ],
)
def test_what_a_senior_reviewer_found_is_fixed(check_context: CheckContext, check_id: str) -> None:
    assert_check(check_context, check_id)


def test_the_app_keeps_idle_connections_longer_than_the_load_balancer(check_context: CheckContext) -> None:
    """Live: the API runs as configured (gunicorn, HTTP_KEEPALIVE_SECONDS from the ALB's idle timeout + 10 s)."""
    result = assert_check(check_context, "edge.keep-alive")
    assert result.check.fidelity == Fidelity.BEHAVIOUR


def _diagram_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_diagram", REPO / "tools" / "render_diagram.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_diagram", module)
    spec.loader.exec_module(module)
    return module


# What a task's variable says it reaches, as nodes of the ARCHITECTURE.md diagram.
DIAGRAM_NODE_OF = {
    "JOBS_QUEUE_URL": "sqs",
    "MODELS_BUCKET": "s3gw",
    "UPLOADS_BUCKET": "s3gw",
    "DB_READ_HOSTS": "rds",
    "CACHE_HOST": "redis",
}
WORKLOAD_NODES = {"api", "worker"}
REACHED_NODES = {"proxy", "rds", "redis", "sqs", "s3gw"}


def _deployed_edges(check_context: CheckContext) -> set[tuple[str, str]]:
    edges: set[tuple[str, str]] = set()
    proxies = {p["Endpoint"] for p in check_context.client("rds").describe_db_proxies()["DBProxies"]}
    for workload in discover_workloads(check_context):
        node = workload.name.rsplit("-", 1)[-1]  # stackprobe-prod-api -> api
        for name, value in workload.all_environment().items():
            if name == "DB_HOST":
                edges.add((node, "proxy" if value in proxies else "rds"))
            elif name in DIAGRAM_NODE_OF:
                edges.add((node, DIAGRAM_NODE_OF[name]))
    return edges


def test_the_architecture_diagram_draws_what_the_services_reach(check_context: CheckContext) -> None:
    """Every workload edge of docs/ARCHITECTURE.md's diagram is backed by a deployed task variable, and every
    such variable is drawn; an edge to an optional part (its label or its node says so) may be absent."""
    tool = _diagram_tool()
    document = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    labels = tool.mermaid_nodes(document)
    drawn: dict[tuple[str, str], str] = {}
    for edge in tool.mermaid_edges(document):
        for workload, reached in ((edge.source, edge.target), (edge.target, edge.source)):
            if workload in WORKLOAD_NODES and reached in REACHED_NODES:
                drawn[(workload, reached)] = f"{edge.label} {labels.get(reached, '')}"
    deployed = _deployed_edges(check_context)
    undrawn = deployed - set(drawn)
    unbacked = [edge for edge, text in drawn.items() if edge not in deployed and "optional" not in text]
    assert not undrawn, f"the services reach {sorted(undrawn)}, which docs/ARCHITECTURE.md does not draw"
    assert not unbacked, f"docs/ARCHITECTURE.md draws {sorted(unbacked)}, which no deployed task variable backs"


def test_prod_plans_no_read_replica_to_judge(check_context: CheckContext) -> None:
    """prod has no replicas (sports-commentary has two, with a stack-managed master password: tests/unit)."""
    assert_check(check_context, "database.replica-managed-password", Status.NOT_APPLICABLE)


def test_production_rules_apply_because_the_stack_says_it_is_production(check_context: CheckContext) -> None:
    """prod.tfvars tags every resource Environment=prod (default_tags): the decision says so, and names it."""
    decision = environment_decision(check_context)
    assert decision.production
    assert decision.describe().startswith("environment: production (tag Environment=prod on ")


# What the repository holds, read from its files (fidelity `source`): no deploy needed, none found.
@pytest.mark.parametrize(
    "check_id",
    [
        "source.provider-credentials",
        "source.committed-secrets",
        "source.state-locking",
        "source.hardcoded-account-ids",
    ],
)
def test_the_configuration_files_hold_no_credential_secret_or_account_id(
    check_context: CheckContext, check_id: str
) -> None:
    result = assert_check(check_context, check_id)
    assert result.check.fidelity == Fidelity.SOURCE


@pytest.mark.parametrize("check_id", ["iam.no-long-lived-keys", "cost.large-always-on-instance"])
def test_what_the_legacy_stacks_got_wrong_is_not_there_at_all(check_context: CheckContext, check_id: str) -> None:
    """The fix for an IAM user with keys (CI federates through OIDC) and for an always-on GPU instance
    (jobs run as Fargate tasks) is that the thing does not exist: not applicable, rather than passing."""
    assert_check(check_context, check_id, Status.NOT_APPLICABLE)
