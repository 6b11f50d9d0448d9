"""iam.self-escalation, iam.pass-role-escalation and iam.oidc-trust-scope on principals built in the emulator.

One account holds every case (resetting moto costs seconds): the CI apply role of terraform/bootstrap as it
was (its IAM writes reach `role/${prefix}*`, and its own name matches) and as it is (under /ci/, bounded
writes), a policy-version rewrite, deploy roles that pass task roles and one that passes a role reading
every bucket, and GitHub trust policies of every shape issue 29 found.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.checks.escalation import pass_role_escalation, self_escalation
from stackprobe.checks.oidc_trust import oidc_trust_scope
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

ACCOUNT = "123456789012"
GITHUB = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/sp-workload-boundary"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust_service(service: str) -> str:
    return document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def trust_github(*subjects: str, operator: str = "StringEquals") -> str:
    conditions: dict[str, Any] = {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}
    if subjects:
        conditions.setdefault(operator, {})["token.actions.githubusercontent.com:sub"] = list(subjects)
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": GITHUB},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": conditions,
        }
    )


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


ROLE_WRITES = ["iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole"]


@pytest.fixture(scope="module")
def results(stacks: Run) -> dict[str, CheckResult]:
    backend = stacks.reset_emulator()
    iam = backend.client("iam")

    def role(name: str, trust: str, *statements: dict[str, Any], path: str = "/") -> None:
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
        if statements:
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=document(*statements))

    ci = trust_github("repo:o/r:environment:prod")
    # terraform/bootstrap before issue 29: every role named sp-* is writable, its own name included.
    role("sp-ci-terraform", ci, {"Sid": "ManageStackRoles", **allow(ROLE_WRITES, f"arn:aws:iam::{ACCOUNT}:role/sp-*")})
    # ... and after: the same grant, from a role under /ci/ that it does not match.
    role(
        "sp-ci-apply",
        ci,
        allow(ROLE_WRITES, f"arn:aws:iam::{ACCOUNT}:role/sp-*"),
        path="/ci/",
    )
    # Bounded writes: a role it may write only with the boundary, which it does not carry itself.
    role(
        "sp-bounded-writer",
        ci,
        allow(
            ["iam:PutRolePolicy", "iam:AttachRolePolicy"],
            f"arn:aws:iam::{ACCOUNT}:role/sp-*",
            Condition={"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}},
        ),
    )
    # A grant on itself that an explicit Deny takes back.
    role(
        "sp-denied-self",
        ci,
        allow("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/sp-*"),
        {"Effect": "Deny", "Action": "iam:*", "Resource": f"arn:aws:iam::{ACCOUNT}:role/sp-denied-self"},
    )
    # A user who may publish a new default version of the managed policy it holds.
    iam.create_user(UserName="sp-release")
    policy = iam.create_policy(
        PolicyName="sp-release-tools",
        PolicyDocument=document(
            {
                "Sid": "Versions",
                **allow(
                    ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"], f"arn:aws:iam::{ACCOUNT}:policy/sp-*"
                ),
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="sp-release", PolicyArn=policy)

    # Roles to pass: a scoped task role, and an "ops" role that reads every bucket.
    role("sp-api-task", trust_service("ecs-tasks.amazonaws.com"), allow("s3:GetObject", "arn:aws:s3:::sp-models/*"))
    role("sp-ops-debug", trust_service("ecs-tasks.amazonaws.com"), {"Sid": "ReadAll", **allow("s3:GetObject", "*")})
    # An administrator by its policy, capped by a boundary that allows one bucket's objects: no stronger.
    boundary = iam.create_policy(
        PolicyName="sp-workload-boundary", PolicyDocument=document(allow("s3:GetObject", "arn:aws:s3:::sp-models/*"))
    )["Policy"]["Arn"]
    iam.create_role(
        RoleName="sp-bounded-admin",
        AssumeRolePolicyDocument=trust_service("ecs-tasks.amazonaws.com"),
        PermissionsBoundary=boundary,
    )
    iam.put_role_policy(RoleName="sp-bounded-admin", PolicyName="inline", PolicyDocument=document(allow("*", "*")))
    # An administrator only Lambda may assume: not passable to ECS tasks.
    role("sp-lambda-admin", trust_service("lambda.amazonaws.com"), allow("*", "*"))
    to_tasks = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    role(
        "sp-deploy-wide",
        ci,
        {"Sid": "PassStackRoles", **allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/sp-*", Condition=to_tasks)},
    )
    role(
        "sp-deploy-scoped",
        ci,
        {
            "Sid": "PassTaskRoles",
            **allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/sp-api-task", Condition=to_tasks),
        },
    )

    # GitHub trust of every shape.
    role("sp-gh-deploy-branch-and-env", trust_github("repo:o/r:ref:refs/heads/main", "repo:o/r:environment:prod"))
    role("sp-gh-deploy-env", trust_github("repo:o/r:environment:prod"))
    role("sp-gh-any-ref", trust_github("repo:o/r:*", operator="StringLike"))
    role("sp-gh-no-subject", trust_github())
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    role("sp-gh-plan-prs", trust_github("repo:o/r:pull_request", "repo:o/r:ref:refs/heads/main"))
    iam.attach_role_policy(RoleName="sp-gh-plan-prs", PolicyArn=read_only)
    role(
        "sp-gh-plan-pr-no-data",
        trust_github("repo:o/r:pull_request"),
        {
            "Sid": "NoObjectsButTheState",
            "Effect": "Deny",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "NotResource": ["arn:aws:s3:::sp-tfstate/sp/*"],
        },
        {
            "Sid": "NoDataReads",
            "Effect": "Deny",
            "Action": [
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "sqs:ReceiveMessage",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "ssm:GetParameter",
                "ssm:GetParametersByPath",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "ecr:BatchGetImage",
            ],
            "Resource": "*",
        },
    )
    iam.attach_role_policy(RoleName="sp-gh-plan-pr-no-data", PolicyArn=read_only)

    context = CheckContext(backend=backend)
    return {
        result.check.id: result
        for result in (
            assert_check(context, self_escalation, Status.FAIL),
            assert_check(context, pass_role_escalation, Status.FAIL),
            assert_check(context, oidc_trust_scope, Status.FAIL),
        )
    }


def finding(result: CheckResult, name: str) -> Finding:
    assert not result.error, result.error
    [found] = [f for f in result.findings if f.resource.rsplit("/", 1)[-1] == name]
    return found


def test_a_role_whose_own_name_its_iam_writes_match_can_make_itself_an_administrator(
    results: dict[str, CheckResult],
) -> None:
    found = finding(results["iam.self-escalation"], "sp-ci-terraform")
    assert not found.passed
    assert found.evidence.startswith("role sp-ci-terraform can change its own permissions: iam:PutRolePolicy on itself")
    assert (
        f"allows it on arn:aws:iam::{ACCOUNT}:role/sp-*, which matches arn:aws:iam::{ACCOUNT}:role/sp-ci-terraform"
        in (found.evidence)
    )
    assert "iam:UpdateAssumeRolePolicy on itself" in found.evidence


@pytest.mark.parametrize("name", ["sp-ci-apply", "sp-bounded-writer", "sp-denied-self", "sp-bounded-admin"])
def test_writes_that_cannot_reach_the_writer_itself_pass(results: dict[str, CheckResult], name: str) -> None:
    found = finding(results["iam.self-escalation"], name)
    assert found.passed, found.evidence


def test_a_principal_that_may_rewrite_the_managed_policy_it_holds_escalates(results: dict[str, CheckResult]) -> None:
    found = finding(results["iam.self-escalation"], "sp-release")
    assert not found.passed
    assert f"iam:CreatePolicyVersion on arn:aws:iam::{ACCOUNT}:policy/sp-release-tools, attached to itself" in (
        found.evidence
    )
    assert "iam:SetDefaultPolicyVersion" in found.evidence


def test_passing_a_role_that_reads_every_bucket_to_tasks_is_an_escalation(results: dict[str, CheckResult]) -> None:
    found = finding(results["iam.pass-role-escalation"], "sp-deploy-wide")
    assert not found.passed
    assert "may pass sp-ops-debug to ecs-tasks.amazonaws.com" in found.evidence
    assert "holds what it lacks: s3:GetObject on every resource" in found.evidence
    # The administrator only Lambda can assume is out of reach of a PassRole limited to ECS tasks, and the one
    # whose boundary allows one bucket's objects can do no more than that.
    assert "sp-lambda-admin" not in found.evidence
    assert "sp-bounded-admin" not in found.evidence


def test_passing_only_task_roles_no_stronger_than_the_deployer_passes(results: dict[str, CheckResult]) -> None:
    found = finding(results["iam.pass-role-escalation"], "sp-deploy-scoped")
    assert (found.passed, found.evidence) == (
        True,
        "role sp-deploy-scoped may pass sp-api-task, none of which can do more than it can",
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "sp-gh-deploy-branch-and-env",
            "repo:o/r:ref:refs/heads/main reaches without approval what environment prod gates",
        ),
        ("sp-gh-any-ref", "subject pattern repo:o/r:* admits every branch"),
        ("sp-gh-no-subject", "any workflow of any GitHub repository can assume it"),
        ("sp-gh-plan-prs", "lets any pull request's workflow (unreviewed code) read data: s3:GetObject"),
    ],
)
def test_trust_wider_than_its_gate_fails(results: dict[str, CheckResult], name: str, expected: str) -> None:
    found = finding(results["iam.oidc-trust-scope"], name)
    assert not found.passed
    assert expected in found.evidence, found.evidence


@pytest.mark.parametrize("name", ["sp-gh-deploy-env", "sp-gh-plan-pr-no-data"])
def test_exact_subjects_and_a_pull_request_role_without_data_pass(results: dict[str, CheckResult], name: str) -> None:
    found = finding(results["iam.oidc-trust-scope"], name)
    assert found.passed, found.evidence
