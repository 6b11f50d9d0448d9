"""GitHub Actions OIDC trust: who, in the repository, may become each role.

A role trusted by `token.actions.githubusercontent.com` is assumed by whatever workflow run presents a token
whose `sub` claim the trust policy accepts: `repo:OWNER/REPO:environment:NAME` for a job in a GitHub
environment (whose protection rules, required reviewers and branch restrictions, gate it),
`repo:OWNER/REPO:ref:refs/heads/BRANCH` for any job on a branch outside an environment,
`repo:OWNER/REPO:pull_request` for any pull request's workflow (its code not reviewed yet). Three ways that
trust is wider than it looks:
- no `sub` condition, or a wildcard in it: other repositories, branches, tags or environments qualify;
- an environment subject beside any other: the other subject reaches, without the environment's approval,
  everything the environment was meant to gate;
- `pull_request` on a role that reads data: any branch pushed to the repository can read it.
Trust and permissions are read with `stackprobe.aws.policy`, as the IAM checks read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from stackprobe.aws.policy import Statement, wildcard_match
from stackprobe.checks._principals import Principal, principals
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

GITHUB_ISSUER = "token.actions.githubusercontent.com"
SUBJECT_KEY = f"{GITHUB_ISSUER}:sub"
# Reads of the data an account holds (not of its configuration): the ones a plan never needs.
DATA_READS = (
    "s3:GetObject",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParametersByPath",
    "kms:Decrypt",
    "sqs:ReceiveMessage",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "ecr:BatchGetImage",
)
_POSITIVE = {"stringequals", "stringlike", "stringequalsignorecase"}


@dataclass(frozen=True)
class Subject:
    """One accepted `sub` value, and whether it is a pattern (StringLike with `*` or `?`)."""

    value: str
    pattern: bool

    @property
    def environment(self) -> bool:
        return not self.pattern and ":environment:" in self.value

    def admits(self, subject: str) -> bool:
        return wildcard_match(self.value, subject) if self.pattern else self.value == subject


def _github_statements(role: Principal) -> list[Statement]:
    return [
        s
        for s in role.trust
        if s.is_allow
        and s.covers_action("sts:AssumeRoleWithWebIdentity")
        and any(GITHUB_ISSUER in value for value in s.principal_values("Federated"))
    ]


def _subjects(statement: Statement) -> list[Subject] | None:
    """The `sub` values a statement accepts; None when no positive condition names any (every subject)."""
    found: list[Subject] = []
    named = False
    for condition in statement.conditions:
        if condition.key.lower() != SUBJECT_KEY or condition.negated or condition.base_operator not in _POSITIVE:
            continue
        named = True
        like = condition.base_operator == "stringlike"
        found += [Subject(v, like and any(c in v for c in "*?")) for v in condition.values]
    return found if named else None


def _repository(subject: Subject) -> str:
    parts = subject.value.split(":")
    return parts[1] if len(parts) > 1 and parts[0] == "repo" else "?"


def _problems(role: Principal) -> tuple[list[str], list[str]]:
    """(what is wider than it should be, the subjects accepted) for one GitHub-trusted role."""
    problems: list[str] = []
    accepted: list[Subject] = []
    for statement in _github_statements(role):
        subjects = _subjects(statement)
        if subjects is None:
            problems.append(
                f"trust statement {statement.label} has no {SUBJECT_KEY} condition: any workflow of any GitHub "
                "repository can assume it"
            )
            continue
        accepted += subjects
    for subject in accepted:
        if subject.pattern:
            problems.append(
                f"subject pattern {subject.value} admits every branch, tag, environment or pull request it "
                "matches, not one gated workflow"
            )
    environments = [s for s in accepted if s.environment]
    if environments:
        others = [s for s in accepted if not s.environment]
        for other in others:
            gate = ", ".join(s.value.rsplit(":", 1)[-1] for s in environments)
            problems.append(
                f"{other.value} reaches without approval what environment {gate} gates (a job outside the "
                "environment presents that subject)"
            )
    pull_requests = [s for s in accepted if s.admits(f"repo:{_repository(s)}:pull_request")]
    if pull_requests:
        reads = [f"{action} ({role.broadly(action)[0].describe()})" for action in DATA_READS if role.broadly(action)]
        if reads:
            problems.append(
                f"{', '.join(s.value for s in pull_requests)} lets any pull request's workflow (unreviewed code) "
                f"read data: {'; '.join(reads)}"
            )
    return problems, [s.value for s in accepted]


@check(
    "iam.oidc-trust-scope",
    "GitHub OIDC trust is no wider than the environment and the data it gates",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("iam",),
    why="The trust policy decides which workflow runs become the role. A subject wildcard admits other "
    "branches or repositories; a branch subject next to an environment one lets a job outside the environment "
    "do, without the required reviewers, what the environment's approval was for; and pull_request admits "
    "any pushed branch's unreviewed code, which must then not be able to read the account's data.",
    fix="Trust exact subjects only: the deploy role repo:OWNER/REPO:environment:NAME alone; a separate, "
    "narrower role for what runs on the branch (an image push); and for pull requests a role that reads "
    "configuration and state but no data (deny s3:GetObject outside the state, secretsmanager:GetSecretValue, "
    "kms:Decrypt...), planning with -refresh=false.",
    reference="terraform/modules/iam (github_deploy, github_push) and terraform/bootstrap (plan, plan_pr, apply)",
    reads=("aws_iam_role",),
)
def oidc_trust_scope(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for role in principals(ctx):
        if role.kind != "role" or not _github_statements(role):
            continue
        problems, accepted = _problems(role)
        if problems:
            evidence = f"role {role.name}: " + "; ".join(problems)
        else:
            evidence = f"role {role.name} trusts exactly {', '.join(accepted)}"
        yield ctx.finding(check_, not problems, role.arn, evidence, role.name)
