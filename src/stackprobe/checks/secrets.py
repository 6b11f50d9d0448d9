"""Secrets checks: no credential as a literal in a task definition or in the Terraform configuration, and
Secrets Manager secrets under a customer-managed key.

Evidence never repeats a secret's value: it names where the literal is and how long it is.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

# Name tokens (split on "_", "-", ".") that mark a variable as holding a credential.
SECRET_TOKENS = {
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "CREDENTIAL",
    "CREDENTIALS",
    "APIKEY",
    "PRIVATEKEY",
    "PWD",
}
SECRET_PAIRS = {
    ("API", "KEY"),
    ("PRIVATE", "KEY"),
    ("ACCESS", "KEY"),
    ("SECRET", "KEY"),
    ("SIGNING", "KEY"),
    ("ENCRYPTION", "KEY"),
    ("CLIENT", "SECRET"),
}
# A last token that makes the variable a pointer to, or a setting about, a secret rather than the
# secret itself (DB_SECRET_ARN, TOKEN_URL, PASSWORD_MIN_LENGTH, AWS_ACCESS_KEY_ID).
NON_SECRET_SUFFIXES = {
    "ARN",
    "NAME",
    "ID",
    "IDS",
    "PATH",
    "FILE",
    "URL",
    "URI",
    "ENDPOINT",
    "REGION",
    "LENGTH",
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "HEADER",
    "PARAM",
    "PARAMETER",
    "ENABLED",
    "TYPE",
    "ALGORITHM",
    "FIELD",
    "VERSION",
    "STAGE",
    "DIR",
    "PREFIX",
    "BUCKET",
    "KEY_ID",
    "ROTATION",
    "DAYS",
    "SECONDS",
}
# scheme://user:password@host (a DSN or URL with an embedded password), whatever the variable's name.
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:\s]+:[^/@\s]+@", re.IGNORECASE)
PLAN_PASSWORD_ATTRIBUTES = {
    "aws_db_instance": ("password", "password_wo"),
    "aws_rds_cluster": ("master_password", "master_password_wo"),
    "aws_docdb_cluster": ("master_password", "master_password_wo"),
    "aws_redshift_cluster": ("master_password", "master_password_wo"),
}
MANAGED_PASSWORD_ATTRIBUTES = ("manage_master_user_password", "manage_master_password")


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^A-Za-z0-9]+", name.upper()) if t]


def looks_like_secret_name(name: str) -> bool:
    tokens = _tokens(name)
    if not tokens or tokens[-1] in NON_SECRET_SUFFIXES or "_".join(tokens[-2:]) in NON_SECRET_SUFFIXES:
        return False
    return bool(SECRET_TOKENS & set(tokens)) or any(pair in SECRET_PAIRS for pair in itertools.pairwise(tokens))


def literal_secret(name: str, value: str) -> str | None:
    """Why this environment entry is a plaintext credential, or None."""
    if not value or value.startswith("arn:") or value.startswith("{{resolve:"):
        return None  # empty, or a reference some tooling resolves: not the secret itself
    if URL_WITH_PASSWORD.match(value):
        return f"{name} is a URL with an embedded password"
    if looks_like_secret_name(name):
        return f"{name} is a literal value ({len(value)} characters)"
    return None


@check(
    "secrets.no-plaintext-in-task-env",
    "No credential is a plain environment value in an ECS task definition",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    services=("ecs",),
    why="Task definition environment values are plain text to anyone with ecs:DescribeTaskDefinition, "
    "appear in the console and CI logs, and stay in every revision forever.",
    fix="Store the value in Secrets Manager (or SSM SecureString) and reference it from the container's "
    "`secrets` (valueFrom); grant the execution role GetSecretValue on that secret only.",
    reference="terraform/modules/service",
    reads=("aws_ecs_task_definition",),
)
def no_plaintext_in_task_env(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for arn in ctx.account.ecs.task_definition_arns():
        definition = ctx.account.ecs.task_definition(arn)
        problems: list[str] = []
        injected: list[str] = []
        for container in definition.get("containerDefinitions", []):
            for entry in container.get("environment") or []:
                reason = literal_secret(str(entry.get("name", "")), str(entry.get("value", "")))
                if reason:
                    problems.append(f"container {container.get('name')}: {reason}")
            injected += [str(s.get("name")) for s in container.get("secrets") or []]
        if problems:
            yield ctx.finding(check_, False, arn, "; ".join(problems))
        else:
            via = f"; from secrets (valueFrom): {', '.join(injected)}" if injected else ""
            yield ctx.finding(check_, True, arn, f"no secret-like environment value{via}")


@check(
    "secrets.customer-key",
    "Secrets Manager secrets are encrypted with a customer-managed KMS key",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("secretsmanager", "kms"),
    why="A secret on the default aws/secretsmanager key can be read by any principal of the account that "
    "has secretsmanager:GetSecretValue: the key's policy cannot narrow it, the secret cannot be shared with "
    "another account, and disabling the key to cut off access is impossible. A customer key makes "
    "kms:Decrypt a second, auditable permission.",
    fix="Set kms_key_id on the aws_secretsmanager_secret (master_user_secret_kms_key_id for an RDS-managed "
    "master password) to a customer-managed key whose policy lets only the readers use it.",
    reference="terraform/modules/database (master_user_secret_kms_key_id)",
    reads=("aws_secretsmanager_secret",),
)
def customer_key(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for secret in ctx.account.secretsmanager.secrets():
        arn, name = str(secret["ARN"]), str(secret.get("Name", ""))
        owner = f" (managed by {secret['OwningService']})" if secret.get("OwningService") else ""
        key = str(secret.get("KmsKeyId") or "")
        if not key:
            evidence = f"{name}{owner}: no KmsKeyId, so the default aws/secretsmanager key"
            yield ctx.finding(check_, False, arn, evidence, name)
            continue
        manager = ctx.account.kms.manager(key)
        parts = key.split(":")
        if manager is None and key.startswith("arn:") and len(parts) > 4 and parts[4] != ctx.backend.account_id:
            # AWS-managed keys cannot be used across accounts: a key of another account is a customer key.
            manager, key = "CUSTOMER", f"{key} (of account {parts[4]}, not readable here)"
        if manager == "CUSTOMER":
            yield ctx.finding(check_, True, arn, f"{name}{owner}: customer-managed key {key}", name)
        elif manager == "AWS":
            yield ctx.finding(check_, False, arn, f"{name}{owner}: the AWS-managed key {key}", name)
        else:
            yield ctx.finding(check_, False, arn, f"{name}{owner}: KmsKeyId {key}, which KMS does not know", name)


# --- plan level -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Module:
    """A module in the configuration, and how to resolve `var.X` inside it."""

    address: str  # "" for the root, else "module.a.module.b"
    config: Mapping[str, Any]
    call: Mapping[str, Any] | None  # the module_call block in the parent (None for the root)
    parent: _Module | None


def _modules(root: Mapping[str, Any]) -> Iterator[_Module]:
    pending = [_Module("", root, None, None)]
    while pending:
        module = pending.pop()
        yield module
        for name, call in (module.config.get("module_calls") or {}).items():
            address = f"{module.address}.module.{name}" if module.address else f"module.{name}"
            pending.append(_Module(address, call.get("module") or {}, call, module))


@dataclass(frozen=True)
class _Source:
    literal: bool
    detail: str
    via_default: bool = False


def _resolve(
    expression: Mapping[str, Any] | None, module: _Module, root_values: Mapping[str, Any], depth: int = 0
) -> _Source | None:
    """Where a value comes from: a literal (in an expression or a variable default) or a reference."""
    if not expression or depth > 20:
        return None
    if "constant_value" in expression:
        value = expression["constant_value"]
        if value is None or value == "":
            return None
        return _Source(True, f"a literal in the configuration ({len(str(value))} characters)")
    references = [str(r) for r in expression.get("references") or []]
    variable = next((r.split(".")[1] for r in references if r.startswith("var.") and r.count(".") >= 1), None)
    if variable is None:
        return _Source(False, "from " + ", ".join(references[:2])) if references else None
    passed = (module.call or {}).get("expressions", {}).get(variable) if module.parent is not None else None
    if passed is not None and module.parent is not None:
        source = _resolve(passed, module.parent, root_values, depth + 1)
        if source is not None:
            where = module.address or "root"
            return _Source(source.literal, f"var.{variable} of {where}, {source.detail}", source.via_default)
    definition = (module.config.get("variables") or {}).get(variable) or {}
    default = definition.get("default")
    if not isinstance(default, str) or not default:
        return _Source(False, f"var.{variable}, set at plan time")
    if module.parent is None and root_values.get(variable, {}).get("value") != default:
        return _Source(False, f"var.{variable}, set at plan time (its literal default is not used)")
    place = f"variable {variable}" + (f" in {module.address}" if module.address else "")
    return _Source(
        True, f"var.{variable}, whose default is a literal ({len(default)} characters) in {place}", via_default=True
    )


@check(
    "secrets.no-hardcoded-db-password",
    "No database master password is written into the Terraform configuration",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    services=(),
    why="A password in the configuration is in version control, in every clone and in the state file; "
    "it cannot be rotated without a code change and is readable by anyone with the repository.",
    fix="Set manage_master_user_password = true (RDS keeps the password in Secrets Manager and rotates "
    "it), or generate it with random_password and store it in Secrets Manager.",
    reference="terraform/modules/database",
    plan_level=True,
)
def no_hardcoded_db_password(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    configuration = ctx.plan.configuration()
    root_values = ctx.plan.raw.get("variables", {}) or {}
    for module in _modules(configuration.get("root_module") or {}):
        for resource in module.config.get("resources") or []:
            attributes = PLAN_PASSWORD_ATTRIBUTES.get(str(resource.get("type")))
            if attributes is None or resource.get("mode", "managed") != "managed":
                continue
            address = f"{module.address}.{resource['address']}" if module.address else str(resource["address"])
            expressions = resource.get("expressions") or {}
            managed = [
                a for a in MANAGED_PASSWORD_ATTRIBUTES if (expressions.get(a) or {}).get("constant_value") is True
            ]
            if managed:
                yield Finding(
                    check_.id,
                    True,
                    address,
                    f"{managed[0]} = true: the service keeps the password in Secrets Manager",
                    address,
                )
                continue
            found = [(a, s) for a in attributes if (s := _resolve(expressions.get(a), module, root_values))]
            if not found:
                yield Finding(check_.id, True, address, "no master password in the configuration", address)
                continue
            attribute, source = found[0]
            if not source.literal:
                yield Finding(
                    check_.id,
                    True,
                    address,
                    f"{attribute} comes {source.detail}"
                    if source.detail.startswith("from")
                    else f"{attribute} is {source.detail}",
                    address,
                )
                continue
            # A literal default can be overridden per environment, but as written it is what deploys.
            yield Finding(
                check_.id,
                False,
                address,
                f"{attribute} is {source.detail}",
                address,
                severity=Severity.HIGH if source.via_default else None,
            )
