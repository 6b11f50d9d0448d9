"""terraform/bootstrap's CI roles, as planned, pass the checks that found them wanting (issue 29).

The bootstrap is applied once per account by an administrator, not by `make verify`; its roles are judged
here instead: the configuration is planned (every policy of it is known at plan time, by design), each role,
inline policy, attachment and the workload boundary is created in the emulator as planned, and the
escalation and OIDC-trust checks run on that account. Before issue 29 the apply role matched its own IAM
grant (`role/${prefix}*`) and the plan role read every object for any pull request: both would fail here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Status
from stackprobe.checks.escalation import pass_role_escalation, self_escalation
from stackprobe.checks.oidc_trust import oidc_trust_scope
from stackprobe.lifecycle.run import Run
from stackprobe.settings import StackSpec
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness

BOOTSTRAP = Path(__file__).resolve().parents[2] / "terraform" / "bootstrap"


def _known(resource: Mapping[str, Any], *names: str) -> list[Any]:
    values = [resource.get(name) for name in names]
    assert all(isinstance(v, str) for v in values), f"{names} of {resource} are not known at plan time"
    return values


def replay(plan: Plan, run: Run) -> CheckContext:
    """The bootstrap's IAM, created in a fresh emulator account exactly as the plan says."""
    backend = run.reset_emulator()
    iam = backend.client("iam")
    for policy in plan.resources("aws_iam_policy"):
        name, document = _known(policy.values, "name", "policy")
        iam.create_policy(PolicyName=name, PolicyDocument=document)
    for role in plan.resources("aws_iam_role"):
        name, path, trust = _known(role.values, "name", "path", "assume_role_policy")
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
    for inline in plan.resources("aws_iam_role_policy"):
        role_name, name, document = _known(inline.values, "role", "name", "policy")
        iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=document)
    for attachment in plan.resources("aws_iam_role_policy_attachment"):
        role_name, arn = _known(attachment.values, "role", "policy_arn")
        iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
    return CheckContext(backend=backend)


@pytest.fixture(scope="module")
def results(stacks: Run) -> dict[str, CheckResult]:
    plan = stacks.prepared(StackSpec(tf_dir=BOOTSTRAP)).plan_json()
    context = replay(plan, stacks)
    return {item.id: run_check(item, context) for item in (self_escalation, pass_role_escalation, oidc_trust_scope)}


@pytest.mark.parametrize("check_id", ["iam.self-escalation", "iam.pass-role-escalation", "iam.oidc-trust-scope"])
def test_the_bootstrap_roles_pass(results: dict[str, CheckResult], check_id: str) -> None:
    result = results[check_id]
    assert result.status in (Status.PASS, Status.NOT_APPLICABLE), (
        "\n".join(f.evidence for f in result.failures) or result.error
    )


def test_each_ci_role_trusts_exactly_one_subject(results: dict[str, CheckResult]) -> None:
    trusted = {f.resource.rsplit("/", 1)[-1]: f.evidence for f in results["iam.oidc-trust-scope"].findings}
    repository = "example-org/stackprobe"
    assert trusted == {
        "stackprobe-ci-plan": f"role stackprobe-ci-plan trusts exactly repo:{repository}:ref:refs/heads/main",
        "stackprobe-ci-plan-pr": f"role stackprobe-ci-plan-pr trusts exactly repo:{repository}:pull_request",
        "stackprobe-ci-terraform": f"role stackprobe-ci-terraform trusts exactly repo:{repository}:environment:prod",
    }


def test_the_apply_role_is_outside_the_roles_it_may_write(results: dict[str, CheckResult]) -> None:
    [apply] = [f for f in results["iam.self-escalation"].findings if f.resource.endswith("/stackprobe-ci-terraform")]
    assert ":role/ci/stackprobe-ci-terraform" in apply.resource
    assert apply.passed, apply.evidence


def test_the_boundary_allows_no_identity_administration(stacks: Run) -> None:
    plan = stacks.prepared(StackSpec(tf_dir=BOOTSTRAP)).plan_json()
    [boundary] = plan.resources("aws_iam_policy")
    statements = json.loads(boundary.values["policy"])["Statement"]
    broad = [s for s in statements if s.get("Resource") == "*"]
    assert broad and all("iam:*" in s.get("NotAction", []) for s in broad), statements
