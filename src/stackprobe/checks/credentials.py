"""Workloads reach their databases as an application role, never with the master credentials.

The master user of an RDS instance can do everything: drop any table, read every schema, create users,
change the configuration. A service that connects with it turns any injection or leaked task credential
into full control of the data, and ties every running task to the one password RDS rotates (a task that
read it at start-up is locked out after the rotation). The check finds, for each database, the services
that connect to it (directly, through a proxy in front of it, or because they hold its master secret) and
what they connect with: a `secrets` entry that points at the instance's master secret (RDS-managed, or any
secret whose `username` is the master's), or a user variable (DB_USER, PGUSER, ...) naming the master.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.aws.readers.rds import DbInstance
from stackprobe.aws.workloads import Workload
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.checks.database import database_clients

# Variables that name the database user a process logs in as.
USER_KEYS = ("DB_USER", "DB_USERNAME", "DATABASE_USER", "DATABASE_USERNAME", "PGUSER", "MYSQL_USER", "POSTGRES_USER")


def _secret_username(ctx: CheckContext, value_from: str) -> str | None:
    """The `username` in the Secrets Manager secret a `secrets` entry points at (None: not such a secret)."""
    if ":secretsmanager:" not in value_from:
        return None
    arn = ":".join(value_from.split(":")[:7])
    try:
        document = json.loads(ctx.account.secretsmanager.secret_string(arn) or "null")
    except (ClientError, BotoCoreError, ValueError):
        return None
    return str(document.get("username")) if isinstance(document, dict) and "username" in document else None


def _credentials(ctx: CheckContext, workload: Workload, master: str, master_secret: str) -> tuple[bool, str]:
    """(uses the master, what it connects with), from the workload's secrets and user variables."""
    for name, value_from in sorted(workload.secret_sources().items()):
        if master_secret and value_from.startswith(master_secret):
            return True, f"secret {name} is the instance's master secret"
        if _secret_username(ctx, value_from) == master:
            return True, f"secret {name} holds the master user {master}'s credentials"
    environment = workload.all_environment()
    for key in USER_KEYS:
        if environment.get(key, "").strip() == master:
            return True, f"{key}={master}, the master user"
    users = [f"{key}={environment[key]}" for key in USER_KEYS if environment.get(key, "").strip()]
    users += [
        f"secret {name} (user {user})"
        for name, value_from in sorted(workload.secret_sources().items())
        if (user := _secret_username(ctx, value_from))
    ]
    return False, ", ".join(users) if users else "no credentials of the master user"


@check(
    "database.master-credentials",
    "Services connect to their databases as an application user, not the master user",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("rds", "ecs", "secretsmanager"),
    why="The master user can drop or read anything and create users: a service that logs in with it turns an "
    "injection or a leaked task credential into full control of the data. Its password is the one RDS rotates, "
    "so every task that read it at start-up is locked out after a rotation.",
    fix="Create an application role with only the grants the service needs, and connect as it: with IAM "
    "authentication (rds-db:connect on the task role, through RDS Proxy or directly), or with its own secret. "
    "Keep the master secret for administrators.",
    reference="terraform/modules/database (app_username, proxy auth with IAM) and terraform/main.tf (DB_USER)",
    reads=("aws_db_instance",),
)
def master_credentials(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    instances = [db for db in ctx.account.rds.instances() if not db.replica]
    if not instances:
        return
    workloads = ctx.account.ecs.workloads()
    proxies = ctx.account.rds.proxies()
    for db in instances:
        clients = database_clients(db, workloads, proxies, only_database=len(instances) == 1)
        master = str(db.raw.get("MasterUsername") or "")
        for workload, how in [*clients.direct, *clients.proxied]:
            uses_master, evidence = _credentials(ctx, workload, master, db.master_secret_arn)
            yield _finding(
                ctx, check_, db, workload, not uses_master, f"{db.identifier} ← {workload.label} ({how}): {evidence}"
            )


def _finding(
    ctx: CheckContext, check_: Check, db: DbInstance, workload: Workload, passed: bool, evidence: str
) -> Finding:
    return ctx.finding(check_, passed, workload.arn, evidence, workload.task_definition_arn, db.arn)
