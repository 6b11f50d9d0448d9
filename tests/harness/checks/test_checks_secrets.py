"""Secrets checks: task definitions built in the emulator, and plan configurations written as terraform shows them."""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Severity, Status
from stackprobe.checks.secrets import (
    customer_key,
    literal_secret,
    looks_like_secret_name,
    no_hardcoded_db_password,
    no_plaintext_in_task_env,
)
from stackprobe.lifecycle.run import Run
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness

SECRET_VALUE = "Sup3r-S3cret!"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"


def finding(result: CheckResult, resource: str) -> Finding:
    assert not result.error, result.error
    [found] = [f for f in result.findings if f.resource == resource]
    return found


# --- names and values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "PASSWORD",
        "db-passwd",
        "API_KEY",
        "STRIPE_API_KEY",
        "JWT_SECRET",
        "CLIENT_SECRET",
        "GITHUB_TOKEN",
        "AUTH_TOKEN",
        "PRIVATE_KEY",
        "SIGNING_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "DB_SECRET",
        "SMTP_CREDENTIALS",
        "APIKEY",
    ],
)
def test_secret_like_names(name: str) -> None:
    assert looks_like_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "DB_SECRET_ARN",
        "SECRET_NAME",
        "TOKEN_URL",
        "PASSWORD_MIN_LENGTH",
        "DB_HOST",
        "AWS_ACCESS_KEY_ID",
        "KMS_KEY_ID",
        "TOKEN_TTL",
        "MODELS_BUCKET",
        "HEALTH_PATH",
        "SECRETS_PREFIX",
        "API_KEY_HEADER",
        "KEYBOARD_LAYOUT",
    ],
)
def test_names_that_point_at_or_configure_secrets(name: str) -> None:
    assert not looks_like_secret_name(name)


def test_literal_values_are_judged_without_being_repeated() -> None:
    assert literal_secret("DB_PASSWORD", SECRET_VALUE) == "DB_PASSWORD is a literal value (13 characters)"
    assert literal_secret("DATABASE_URL", "postgres://app:hunter2@db:5432/app") == (
        "DATABASE_URL is a URL with an embedded password"
    )
    assert literal_secret("DB_PASSWORD", "") is None
    assert literal_secret("DB_PASSWORD", SECRET_ARN) is None
    assert literal_secret("DATABASE_URL", "postgres://db:5432/app") is None


# --- task definitions ----------------------------------------------------------------------------


def register(backend: AwsBackend, family: str, env: dict[str, str], secrets: dict[str, str] | None = None) -> str:
    return str(
        backend.client("ecs").register_task_definition(
            family=family,
            containerDefinitions=[
                {
                    "name": "api",
                    "image": "app:1",
                    "memory": 512,
                    "environment": [{"name": k, "value": v} for k, v in env.items()],
                    "secrets": [{"name": k, "valueFrom": v} for k, v in (secrets or {}).items()],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    )


@pytest.fixture(scope="module")
def task_env_result(stacks: Run) -> tuple[CheckResult, str, str]:
    backend = stacks.reset_emulator()
    good = register(
        backend,
        "sp-good",
        {
            "DB_HOST": "db.internal",
            "DB_SECRET_ARN": SECRET_ARN,
            "PASSWORD_MIN_LENGTH": "12",
            "TOKEN_URL": "https://idp.example.com/token",
        },
        {"DB_SECRET": SECRET_ARN, "DB_PASSWORD": f"{SECRET_ARN}:password::"},
    )
    bad = register(
        backend,
        "sp-plain",
        {
            "DB_HOST": "db.internal",
            "DB_PASSWORD": SECRET_VALUE,
            "DATABASE_URL": "postgres://app:hunter2@db:5432/app",
            "API_KEY": "abc123",
        },
    )
    return run_check(no_plaintext_in_task_env, CheckContext(backend=backend)), good, bad


def test_secrets_from_value_from_pass(task_env_result: tuple[CheckResult, str, str]) -> None:
    result, good, _ = task_env_result
    found = finding(result, good)

    assert (found.passed, found.evidence) == (
        True,
        "no secret-like environment value; from secrets (valueFrom): DB_SECRET, DB_PASSWORD",
    )


def test_plaintext_credentials_fail_without_showing_them(task_env_result: tuple[CheckResult, str, str]) -> None:
    result, _, bad = task_env_result
    found = finding(result, bad)

    assert result.status == Status.FAIL and result.worst_severity() == Severity.CRITICAL
    assert (found.passed, found.evidence) == (
        False,
        "container api: DB_PASSWORD is a literal value (13 characters); container api: DATABASE_URL is a URL "
        "with an embedded password; container api: API_KEY is a literal value (6 characters)",
    )
    assert SECRET_VALUE not in found.evidence and "hunter2" not in found.evidence


def test_no_task_definition_is_not_applicable(clean_backend: AwsBackend) -> None:
    assert run_check(no_plaintext_in_task_env, CheckContext(backend=clean_backend)).status == Status.NOT_APPLICABLE


# --- plan: hard-coded database passwords ---------------------------------------------------------


def db(name: str, type_: str = "aws_db_instance", **expressions: Any) -> dict[str, Any]:
    return {
        "address": f"{type_}.{name}",
        "mode": "managed",
        "type": type_,
        "name": name,
        "expressions": {"engine": {"constant_value": "postgres"}, **expressions},
    }


def plan(root: dict[str, Any], variables: dict[str, Any] | None = None) -> Plan:
    return Plan(
        {"configuration": {"root_module": root}, "variables": {k: {"value": v} for k, v in (variables or {}).items()}}
    )


def judge(the_plan: Plan, backend: AwsBackend) -> CheckResult:
    return run_check(no_hardcoded_db_password, CheckContext(backend=backend, plan=the_plan))


@pytest.fixture(scope="module")
def plan_result(aws_backend: AwsBackend) -> CheckResult:
    root = {
        "variables": {
            "db_password": {"default": "D0cs-2021!", "sensitive": True},
            "overridden_password": {"default": "old-default", "sensitive": True},
            "no_default_password": {"sensitive": True},
        },
        "resources": [
            db("literal", password={"constant_value": SECRET_VALUE}),
            db("managed", manage_master_user_password={"constant_value": True}),
            db("generated", password={"references": ["random_password.db.result", "random_password.db"]}),
            db("default", password={"references": ["var.db_password"]}),
            db("overridden", password={"references": ["var.overridden_password"]}),
            db("from_var", password={"references": ["var.no_default_password"]}),
            db("replica"),
            db("aurora", "aws_rds_cluster", master_password={"constant_value": "Aur0ra!"}),
            {
                "address": "aws_s3_bucket.x",
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "x",
                "expressions": {"bucket": {"constant_value": "password"}},
            },
        ],
        "module_calls": {
            "database": {
                "source": "./modules/database",
                "expressions": {"master_password": {"constant_value": "M0dule-Literal"}},
                "module": {
                    "variables": {"master_password": {"sensitive": True}},
                    "resources": [db("this", password={"references": ["var.master_password"]})],
                },
            },
            "safe": {
                "source": "./modules/database",
                "expressions": {"master_password": {"references": ["random_password.db.result"]}},
                "module": {
                    "variables": {"master_password": {"default": "child-default"}},
                    "resources": [db("this", password={"references": ["var.master_password"]})],
                },
            },
        },
    }
    variables = {"db_password": "D0cs-2021!", "overridden_password": "from-tfvars", "no_default_password": "x"}
    return judge(plan(root, variables), aws_backend)


@pytest.mark.parametrize(
    ("address", "passed", "evidence", "severity"),
    [
        ("aws_db_instance.literal", False, "password is a literal in the configuration (13 characters)", None),
        ("aws_rds_cluster.aurora", False, "master_password is a literal in the configuration (7 characters)", None),
        (
            "aws_db_instance.default",
            False,
            "password is var.db_password, whose default is a literal (10 characters) in variable db_password",
            Severity.HIGH,
        ),
        (
            "module.database.aws_db_instance.this",
            False,
            "password is var.master_password of module.database, a literal in the configuration (14 characters)",
            None,
        ),
        (
            "aws_db_instance.managed",
            True,
            "manage_master_user_password = true: the service keeps the password in Secrets Manager",
            None,
        ),
        ("aws_db_instance.generated", True, "password comes from random_password.db.result, random_password.db", None),
        (
            "module.safe.aws_db_instance.this",
            True,
            "password is var.master_password of module.safe, from random_password.db.result",
            None,
        ),
        (
            "aws_db_instance.overridden",
            True,
            "password is var.overridden_password, set at plan time (its literal default is not used)",
            None,
        ),
        ("aws_db_instance.from_var", True, "password is var.no_default_password, set at plan time", None),
        ("aws_db_instance.replica", True, "no master password in the configuration", None),
    ],
)
def test_database_passwords_in_configuration(
    plan_result: CheckResult, address: str, passed: bool, evidence: str, severity: Severity | None
) -> None:
    found = finding(plan_result, address)

    assert (found.passed, found.evidence, found.severity, found.address) == (passed, evidence, severity, address)
    assert SECRET_VALUE not in found.evidence


def test_plan_verdict_and_scope(plan_result: CheckResult) -> None:
    assert plan_result.status == Status.FAIL
    assert plan_result.worst_severity() == Severity.CRITICAL
    assert len(plan_result.findings) == 10  # the ten databases: the bucket is not inspected


def test_plan_check_needs_a_plan_and_a_database(aws_backend: AwsBackend) -> None:
    assert run_check(no_hardcoded_db_password, CheckContext(backend=aws_backend)).status == Status.SKIPPED
    assert judge(plan({"resources": []}), aws_backend).status == Status.NOT_APPLICABLE


# --- Secrets Manager keys ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_result(stacks: Run) -> tuple[CheckResult, dict[str, str]]:
    backend = stacks.reset_emulator()
    sm, kms = backend.client("secretsmanager"), backend.client("kms")
    key = kms.create_key(Description="secrets")["KeyMetadata"]["Arn"]
    arns = {
        "customer": sm.create_secret(Name="sp/customer", SecretString="x", KmsKeyId=key)["ARN"],
        "default": sm.create_secret(Name="sp/default", SecretString="x")["ARN"],
        "alias": sm.create_secret(Name="sp/alias", SecretString="x", KmsKeyId="alias/aws/secretsmanager")["ARN"],
        "key": key,
    }
    return run_check(customer_key, CheckContext(backend=backend)), arns


def test_a_secret_under_a_customer_key_passes(key_result: tuple[CheckResult, dict[str, str]]) -> None:
    result, arns = key_result
    found = finding(result, arns["customer"])
    assert found.passed and found.evidence == f"sp/customer: customer-managed key {arns['key']}"


def test_secrets_on_the_default_or_aws_managed_key_fail(key_result: tuple[CheckResult, dict[str, str]]) -> None:
    result, arns = key_result
    default = finding(result, arns["default"])
    assert not default.passed
    assert default.evidence == "sp/default: no KmsKeyId, so the default aws/secretsmanager key"
    # moto keeps no KmsKeyId for the AWS-managed alias; either way the evidence names the default key.
    alias = finding(result, arns["alias"])
    assert not alias.passed and "aws/secretsmanager" in alias.evidence
    assert result.status is Status.FAIL


def test_no_secret_is_not_applicable(clean_backend: AwsBackend) -> None:
    assert run_check(customer_key, CheckContext(backend=clean_backend)).status is Status.NOT_APPLICABLE
