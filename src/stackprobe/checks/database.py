"""RDS: backups, encryption, production safety nets, exposure, and the connection budget.

Every check reads the instances back from the account (DescribeDBInstances) and judges what AWS
reports. Aurora cluster members are left to cluster-level rules (their backups, encryption and
deletion protection belong to the cluster); read replicas are skipped where a setting only applies to
a primary (backups, final snapshot, backup plan, connection budget).
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from stackprobe.aws.environment import EnvironmentDecision, environment_decision
from stackprobe.aws.workloads import Workload, discover_workloads, scalable_targets, task_ceiling
from stackprobe.checks.alarms import metric_alarms, notifying_actions, watchers
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.checks.kms import key_manager
from stackprobe.checks.rds_capacity import engine_family, max_connections

MIN_RETENTION_DAYS = 7
MIN_PROD_RETENTION_DAYS = 14
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MINUTES = 7 * 1440
# Environment variables that size a connection pool, per process; overflow is added on top.
POOL_SIZE_KEYS = ("DB_POOL_SIZE", "POOL_SIZE", "DB_MAX_CONNECTIONS", "SQLALCHEMY_POOL_SIZE", "DATABASE_POOL_SIZE")
OVERFLOW_KEYS = ("DB_MAX_OVERFLOW", "SQLALCHEMY_MAX_OVERFLOW", "MAX_OVERFLOW", "DB_POOL_MAX_OVERFLOW")
# Names that say "this process talks to a database" when the host itself cannot be matched.
DB_HINT_KEYS = ("DB_HOST", "DATABASE_HOST", "DATABASE_URL", "PGHOST", "POSTGRES_HOST", "MYSQL_HOST", "DB_SECRET")


def db_instances(ctx: CheckContext) -> list[Mapping[str, Any]]:
    instances: list[Mapping[str, Any]] = []
    for page in ctx.client("rds").get_paginator("describe_db_instances").paginate():
        instances += page.get("DBInstances", [])
    return instances


def _standalone(db: Mapping[str, Any]) -> bool:
    """Not an Aurora cluster member (whose backup/encryption settings are the cluster's)."""
    return not db.get("DBClusterIdentifier")


def _primary(db: Mapping[str, Any]) -> bool:
    return _standalone(db) and not db.get("ReadReplicaSourceDBInstanceIdentifier")


def _environment(ctx: CheckContext, db: Mapping[str, Any]) -> EnvironmentDecision:
    return environment_decision(ctx).for_resource(db.get("TagList"))


def _finding(
    ctx: CheckContext,
    check_: Check,
    db: Mapping[str, Any],
    passed: bool,
    evidence: str,
    severity: Severity | None = None,
) -> Finding:
    identifier = str(db["DBInstanceIdentifier"])
    return ctx.finding(
        check_,
        passed,
        str(db["DBInstanceArn"]),
        f"{identifier}: {evidence}",
        identifier,
        db.get("DbiResourceId"),
        severity=severity,
    )


@check(
    "database.backup-retention",
    "Automated backups are kept at least 7 days (14 in production)",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("rds",),
    why="Retention 0 disables automated backups and point-in-time recovery: a bad migration or a deleted "
    "table cannot be undone. A few days is often shorter than the time it takes to notice corruption.",
    fix="Set backup_retention_period to 7 or more (14+ in production).",
    reference="terraform/modules/database (backup_retention_period)",
)
def backup_retention(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in db_instances(ctx):
        if not _primary(db):
            continue
        days = int(db.get("BackupRetentionPeriod") or 0)
        environment = _environment(ctx, db)
        required = MIN_PROD_RETENTION_DAYS if environment.production else MIN_RETENTION_DAYS
        if days == 0:
            yield _finding(
                ctx,
                check_,
                db,
                False,
                "BackupRetentionPeriod=0: automated backups and point-in-time recovery are off",
                Severity.HIGH,
            )
        else:
            relation = "≥" if days >= required else "<"
            yield _finding(
                ctx,
                check_,
                db,
                days >= required,
                f"BackupRetentionPeriod={days} ({relation} {required} days; {environment.rule})",
            )


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def daily_window(text: str) -> tuple[int, int]:
    """`hh:mm-hh:mm` as minutes of the day (start, end); end < start wraps past midnight."""
    start, end = text.strip().split("-")
    return _clock(start), _clock(end)


def weekly_window(text: str) -> tuple[int, int]:
    """`ddd:hh:mm-ddd:hh:mm` as minutes of the week from Monday 00:00 (start, end)."""
    start, end = text.strip().lower().split("-")
    day_start, clock_start = start.split(":", 1)
    day_end, clock_end = end.split(":", 1)
    return DAYS.index(day_start) * 1440 + _clock(clock_start), DAYS.index(day_end) * 1440 + _clock(clock_end)


def _week_intervals(start: int, end: int) -> list[tuple[int, int]]:
    """An interval of the week as one or two [start, end) pieces, split where it wraps past Sunday."""
    start, end = start % WEEK_MINUTES, end % WEEK_MINUTES
    if start < end:
        return [(start, end)]
    return [(start, WEEK_MINUTES), (0, end)] if end else [(start, WEEK_MINUTES)]


def window_overlap(backup: str, maintenance: str) -> str | None:
    """The first day on which the daily backup window overlaps the weekly maintenance window, or None."""
    backup_start, backup_end = daily_window(backup)
    length = (backup_end - backup_start) % 1440 or 1440
    maintenance_pieces = _week_intervals(*weekly_window(maintenance))
    for day in range(7):
        start = day * 1440 + backup_start
        for b0, b1 in _week_intervals(start, start + length):
            if any(b0 < m1 and m0 < b1 for m0, m1 in maintenance_pieces):
                return DAYS[day]
    return None


@check(
    "database.backup-window",
    "The daily backup window does not overlap the weekly maintenance window",
    severity=Severity.LOW,
    category=Category.RELIABILITY,
    services=("rds",),
    why="A backup competing with patching slows both and lengthens the maintenance outage. RDS (and moto) "
    "reject overlapping windows on create and modify, so a deployed instance normally passes: the finding "
    "records both windows, and flags instances whose windows were set where that validation did not run.",
    fix="Choose preferred_backup_window and preferred_maintenance_window that do not overlap (windows are "
    "UTC; the backup window repeats daily).",
    reference="terraform/modules/database (backup_window, maintenance_window)",
)
def backup_window(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in db_instances(ctx):
        backup, maintenance = db.get("PreferredBackupWindow"), db.get("PreferredMaintenanceWindow")
        if not _primary(db) or not backup or not maintenance:
            continue
        try:
            day = window_overlap(str(backup), str(maintenance))
        except ValueError:
            yield _finding(ctx, check_, db, False, f"cannot read windows backup={backup!r} maintenance={maintenance!r}")
            continue
        if day is None:
            yield _finding(
                ctx, check_, db, True, f"backup {backup} (daily) and maintenance {maintenance} do not overlap"
            )
        else:
            yield _finding(ctx, check_, db, False, f"backup {backup} overlaps maintenance {maintenance} on {day}")


@check(
    "database.copy-tags-to-snapshot",
    "Snapshots inherit the instance's tags",
    severity=Severity.LOW,
    category=Category.BEST_PRACTICE,
    services=("rds",),
    why="Untagged snapshots lose their owner, environment and cost-allocation tags, and tag-based backup or "
    "retention policies do not find them.",
    fix="Set copy_tags_to_snapshot = true.",
    reference="terraform/modules/database (copy_tags_to_snapshot)",
)
def copy_tags_to_snapshot(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in db_instances(ctx):
        if _standalone(db):
            copies = bool(db.get("CopyTagsToSnapshot"))
            yield _finding(ctx, check_, db, copies, f"CopyTagsToSnapshot={str(copies).lower()}")


@check(
    "database.encryption",
    "Storage is encrypted, preferably with a customer-managed KMS key",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("rds", "kms"),
    why="Unencrypted storage leaves data, snapshots, replicas and logs readable to anyone who obtains the "
    "volume or a snapshot, and can only be fixed by restoring into a new instance. A customer key adds a "
    "key policy you control and lets snapshots be shared across accounts.",
    fix="Set storage_encrypted = true with kms_key_id = a customer-managed key (before creation: it cannot "
    "be changed in place).",
    reference="terraform/modules/database (storage_encrypted, kms_key_id)",
)
def encryption(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in db_instances(ctx):
        if not _standalone(db):
            continue
        if not db.get("StorageEncrypted"):
            yield _finding(ctx, check_, db, False, "StorageEncrypted=false")
            continue
        key = str(db.get("KmsKeyId") or "")
        manager = key_manager(ctx, key) if key else None
        if manager == "CUSTOMER":
            yield _finding(ctx, check_, db, True, f"StorageEncrypted=true with customer key {key}")
        else:
            # moto reports "default_kms_key_id" when no key was given: AWS would use aws/rds.
            what = "the AWS-managed aws/rds key" if manager == "AWS" else f"KmsKeyId={key or '-'} (not a customer key)"
            yield _finding(ctx, check_, db, False, f"StorageEncrypted=true with {what}", Severity.LOW)


@check(
    "database.multi-az-prod",
    "Production databases run Multi-AZ",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("rds",),
    why="A single-AZ instance is down for the whole of an AZ outage, a host failure or most maintenance; "
    "Multi-AZ fails over to a synchronous standby in a minute or two.",
    fix="Set multi_az = true for production instances.",
    reference="terraform/modules/database (multi_az)",
)
def multi_az_prod(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in db_instances(ctx):
        environment = _environment(ctx, db)
        if _primary(db) and environment.production:
            multi = bool(db.get("MultiAZ"))
            yield _finding(ctx, check_, db, multi, f"MultiAZ={str(multi).lower()} ({environment.rule})")


@check(
    "database.deletion-protection-prod",
    "Production databases have deletion protection",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("rds",),
    why="Without it one API call, console click or `terraform destroy` deletes the production database.",
    fix="Set deletion_protection = true for production instances.",
    reference="terraform/modules/database (deletion_protection)",
)
def deletion_protection_prod(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in db_instances(ctx):
        environment = _environment(ctx, db)
        if _standalone(db) and environment.production:
            protected = bool(db.get("DeletionProtection"))
            evidence = f"DeletionProtection={str(protected).lower()} ({environment.rule})"
            yield _finding(ctx, check_, db, protected, evidence)


def _state_instances(state: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """identifier -> (Terraform address, attributes) of every aws_db_instance in the state."""
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for resource in state.get("resources", []):
        if resource.get("type") != "aws_db_instance" or resource.get("mode") != "managed":
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        for instance in resource.get("instances", []):
            attributes = instance.get("attributes") or {}
            key = instance.get("index_key")
            suffix = "" if key is None else (f'["{key}"]' if isinstance(key, str) else f"[{key}]")
            if attributes.get("identifier"):
                address = f"{prefix}aws_db_instance.{resource['name']}{suffix}"
                found[str(attributes["identifier"])] = (address, attributes)
    return found


@check(
    "database.final-snapshot-prod",
    "Deleting a production database takes a final snapshot",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("rds",),
    why="With skip_final_snapshot the last state of the data is gone the moment the instance is deleted "
    "(automated backups go with it unless retained).",
    fix="Set skip_final_snapshot = false and a final_snapshot_identifier for production instances.",
    reference="terraform/modules/database (skip_final_snapshot)",
)
def final_snapshot_prod(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    # The final-snapshot choice is a DeleteDBInstance parameter: the RDS API does not expose it, so the
    # Terraform state's skip_final_snapshot is the only place to read it (no state, no finding).
    in_state = _state_instances(ctx.state)
    for db in db_instances(ctx):
        identifier = str(db["DBInstanceIdentifier"])
        environment = _environment(ctx, db)
        if not _primary(db) or not environment.production or identifier not in in_state:
            continue
        address, attributes = in_state[identifier]
        skip = bool(attributes.get("skip_final_snapshot"))
        snapshot = attributes.get("final_snapshot_identifier")
        evidence = (
            f"skip_final_snapshot={str(skip).lower()} in the Terraform state ({address}; not visible "
            "through the RDS API)"
            + ("" if skip else f", final_snapshot_identifier={snapshot}")
            + f" ({environment.rule})"
        )
        yield _finding(ctx, check_, db, not skip, evidence)


@check(
    "database.not-public",
    "Database instances are not publicly accessible",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    services=("rds",),
    why="PubliclyAccessible gives the instance a public DNS name and address: one security-group rule away "
    "from the internet, and brute-forceable the moment that rule exists.",
    fix="Set publicly_accessible = false and place the instance in private subnets.",
    reference="terraform/modules/database (publicly_accessible)",
)
def not_public(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in db_instances(ctx):
        public = bool(db.get("PubliclyAccessible"))
        yield _finding(ctx, check_, db, not public, f"PubliclyAccessible={str(public).lower()}")


def _tag_condition_key(key: str) -> str:
    return key.removeprefix("aws:ResourceTag/")


def selection_covers(selection: Mapping[str, Any], arn: str, tags: Mapping[str, str]) -> str | None:
    """How an AWS Backup selection selects a resource ('by ARN ...', 'by tag ...'), or None.

    Resources (ARN patterns) and ListOfTags are alternatives; Conditions must all hold as well;
    NotResources excludes.
    """

    def like(value: str | None, pattern: str) -> bool:
        return value is not None and fnmatch.fnmatchcase(value, pattern)

    how: str | None = None
    for pattern in selection.get("Resources") or []:
        if like(arn, pattern):
            how = f"by ARN {pattern}"
            break
    if how is None:
        for tag in selection.get("ListOfTags") or []:
            key = _tag_condition_key(str(tag.get("ConditionKey", "")))
            if tags.get(key) == tag.get("ConditionValue"):
                how = f"by tag {key}={tag.get('ConditionValue')}"
                break
    conditions = selection.get("Conditions") or {}
    checks: dict[str, Callable[[str | None, str], bool]] = {
        "StringEquals": lambda v, c: v == c,
        "StringNotEquals": lambda v, c: v != c,
        "StringLike": like,
        "StringNotLike": lambda v, c: not like(v, c),
    }
    condition_list = [(name, c) for name, items in conditions.items() for c in items or []]
    if condition_list:
        held = all(
            checks[name](tags.get(_tag_condition_key(str(c["ConditionKey"]))), str(c["ConditionValue"]))
            for name, c in condition_list
            if name in checks
        )
        if not held:
            return None
        if how is None and not selection.get("Resources") and not selection.get("ListOfTags"):
            how = "by tag conditions " + ", ".join(
                f"{c['ConditionKey']}={c['ConditionValue']}" for _, c in condition_list
            )
    if how is not None and any(like(arn, pattern) for pattern in selection.get("NotResources") or []):
        return None
    return how


@dataclass(frozen=True)
class BackupPlan:
    name: str
    rules: tuple[str, ...]
    selections: tuple[Mapping[str, Any], ...] = field(default=())


def backup_plans(ctx: CheckContext) -> list[BackupPlan]:
    client = ctx.client("backup")
    plans: list[BackupPlan] = []
    for page in client.get_paginator("list_backup_plans").paginate():
        for summary in page.get("BackupPlansList", []):
            plan_id = summary["BackupPlanId"]
            plan = client.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]
            rules = tuple(
                f"{rule.get('RuleName')} ({rule.get('ScheduleExpression', 'no schedule')}, "
                f"{(rule.get('Lifecycle') or {}).get('DeleteAfterDays', 'kept')} d)"
                for rule in plan.get("Rules") or []
            )
            selections = tuple(
                client.get_backup_selection(BackupPlanId=plan_id, SelectionId=s["SelectionId"])["BackupSelection"]
                for s in client.list_backup_selections(BackupPlanId=plan_id).get("BackupSelectionsList", [])
            )
            plans.append(BackupPlan(str(plan.get("BackupPlanName", plan_id)), rules, selections))
    return plans


@check(
    "database.backup-plan",
    "An AWS Backup plan selects every database instance",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("rds", "backup"),
    why="Automated RDS backups live and die with the instance and its account; an AWS Backup plan keeps "
    "copies in a vault with its own retention and access policy (and can copy them to another region or "
    "account), which is what survives a deleted instance or a compromised account.",
    fix="Add an aws_backup_plan with a rule, and an aws_backup_selection naming the instance's ARN (or a "
    "tag it carries).",
    reference="terraform/modules/backup",
)
def backup_plan(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    instances = [db for db in db_instances(ctx) if _primary(db)]
    if not instances:
        return
    plans = backup_plans(ctx)
    for db in instances:
        tags = {t["Key"]: t.get("Value", "") for t in db.get("TagList") or []}
        selected = [
            (plan, f"plan {plan.name} selection {selection.get('SelectionName')} {how}")
            for plan in plans
            for selection in plan.selections
            if (how := selection_covers(selection, str(db["DBInstanceArn"]), tags)) is not None
        ]
        effective = [f"{text}; rules: {', '.join(plan.rules)}" for plan, text in selected if plan.rules]
        environment = _environment(ctx, db)
        severity = Severity.HIGH if environment.production else None
        # Production raises the severity of a missing plan: the evidence says why.
        why = f" ({environment.rule})" if environment.production else ""
        if effective:
            yield _finding(ctx, check_, db, True, " | ".join(effective))
        elif selected:
            ruleless = " | ".join(f"{text}, but the plan has no rule" for _, text in selected)
            yield _finding(ctx, check_, db, False, ruleless + why, severity)
        else:
            yield _finding(
                ctx, check_, db, False, f"no selection of the {len(plans)} backup plan(s) covers it{why}", severity
            )


# -- connection budget ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    name: str
    endpoints: tuple[str, ...]
    targets: tuple[str, ...]
    max_connections_percent: int


def db_proxies(ctx: CheckContext) -> list[Proxy]:
    rds = ctx.client("rds")
    proxies: list[Proxy] = []
    for proxy in rds.describe_db_proxies().get("DBProxies", []):
        name = proxy["DBProxyName"]
        endpoints = [str(proxy.get("Endpoint", ""))]
        # Extra (reader/cross-VPC) endpoints; moto 5.2 does not implement the call and answers an HTML 500.
        with contextlib.suppress(ClientError, BotoCoreError, ResponseParserError):
            endpoints += [
                str(e.get("Endpoint", ""))
                for e in rds.describe_db_proxy_endpoints(DBProxyName=name).get("DBProxyEndpoints", [])
            ]
        targets = [
            str(t.get("RdsResourceId", ""))
            for t in rds.describe_db_proxy_targets(DBProxyName=name).get("Targets", [])
            if t.get("Type", "RDS_INSTANCE") == "RDS_INSTANCE"
        ]
        groups = rds.describe_db_proxy_target_groups(DBProxyName=name).get("TargetGroups", [])
        default = next((g for g in groups if g.get("IsDefault")), groups[0] if groups else {})
        percent = int((default.get("ConnectionPoolConfig") or {}).get("MaxConnectionsPercent", 100))
        proxies.append(Proxy(name, tuple(e for e in endpoints if e), tuple(targets), percent))
    return proxies


@dataclass(frozen=True)
class PoolSize:
    per_task: int | None
    explanation: str


def pool_size(env: Mapping[str, str]) -> PoolSize:
    """Connections one task can hold: pool (+ overflow) per process, times WEB_CONCURRENCY when declared."""

    def number(keys: tuple[str, ...]) -> tuple[str, int] | None:
        for key in keys:
            if re.fullmatch(r"\d+", env.get(key, "").strip()):
                return key, int(env[key])
        return None

    pool = number(POOL_SIZE_KEYS)
    if pool is None:
        return PoolSize(None, f"pool size unknown (none of {', '.join(POOL_SIZE_KEYS)} in the task definition)")
    total, parts = pool[1], [f"{pool[0]}={pool[1]}"]
    overflow = number(OVERFLOW_KEYS)
    if overflow is not None:
        total += overflow[1]
        parts.append(f"{overflow[0]}={overflow[1]}")
    processes = number(("WEB_CONCURRENCY",))
    if processes is not None and processes[1] > 1:
        # Each server process keeps its own pool.
        total *= processes[1]
        parts.append(f"x WEB_CONCURRENCY={processes[1]}")
    return PoolSize(total, " ".join(parts))


@dataclass
class Clients:
    """The services that connect to one instance, directly or through a proxy."""

    direct: list[tuple[Workload, str]] = field(default_factory=list)
    proxied: list[tuple[Workload, str]] = field(default_factory=list)


def _connects_to(workload: Workload, hosts: tuple[str, ...]) -> bool:
    return any(host and host in value for value in workload.all_environment().values() for host in hosts)


def database_clients(
    db: Mapping[str, Any], workloads: list[Workload], proxies: list[Proxy], only_database: bool
) -> Clients:
    clients = Clients()
    address = str((db.get("Endpoint") or {}).get("Address", ""))
    identifier = str(db["DBInstanceIdentifier"])
    master_secret = str((db.get("MasterUserSecret") or {}).get("SecretArn", ""))
    fronting = [p for p in proxies if identifier in p.targets]
    for workload in workloads:
        proxy = next((p for p in fronting if _connects_to(workload, p.endpoints)), None)
        if proxy is not None:
            clients.proxied.append((workload, f"via RDS Proxy {proxy.name}"))
        elif _connects_to(workload, (address,)):
            clients.direct.append((workload, "direct"))
        elif master_secret and any(v.startswith(master_secret) for v in workload.secret_sources().values()):
            clients.direct.append((workload, "uses the instance's master secret"))
        elif only_database and any(
            key in workload.all_environment() or key in workload.secret_sources() for key in DB_HINT_KEYS
        ):
            clients.direct.append((workload, "assumed: DB settings and the only database in the account"))
    return clients


@check(
    "database.connection-budget",
    "The services' connection pools at maximum scale fit in the database's max_connections",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("rds", "ecs", "application-autoscaling"),
    why="Every task holds a pool. When autoscaling (or a rolling deployment, which briefly runs up to "
    "maximumPercent of the tasks) reaches its maximum, the pools add up; past max_connections new "
    "connections are refused and every task fails at once: the connection-exhaustion outage.",
    fix="Keep sum(max tasks x pool size per task) within max_connections (or the RDS Proxy's "
    "MaxConnectionsPercent share of it): lower pool sizes or MaxCapacity, use a larger class or RDS "
    "Proxy. Declare the pool size in the task definition (DB_POOL_SIZE) so it can be checked.",
    reference="terraform/modules/database (connection budget precondition) and terraform/main.tf",
)
def connection_budget(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    instances = [db for db in db_instances(ctx) if _primary(db) and engine_family(str(db.get("Engine", "")))]
    if not instances:
        return
    workloads = discover_workloads(ctx)
    targets = scalable_targets(ctx)
    proxies = db_proxies(ctx)
    for db in instances:
        clients = database_clients(db, workloads, proxies, only_database=len(instances) == 1)
        if not clients.direct and not clients.proxied:
            continue
        limit = max_connections(str(db["Engine"]), str(db["DBInstanceClass"]), _parameter_value(ctx, db))
        limit_text = limit.describe(str(db["DBInstanceClass"]), str(db["Engine"]))
        unknown: list[str] = []
        lines: list[str] = []
        demand = {"direct": 0, "proxied": 0}
        for kind, group in (("direct", clients.direct), ("proxied", clients.proxied)):
            for workload, how in group:
                ceiling = task_ceiling(workload, targets.get(workload.resource_id))
                pool = pool_size(workload.all_environment())
                if pool.per_task is None:
                    unknown.append(f"{workload.label} ({how}): {pool.explanation}")
                    continue
                connections = ceiling.tasks * pool.per_task
                demand[kind] += connections
                lines.append(
                    f"{workload.label} ({how}): {ceiling.explanation} x {pool.per_task} "
                    f"({pool.explanation}) = {connections}"
                )
        if unknown:
            yield _finding(
                ctx, check_, db, False, "; ".join(unknown + lines) + f"; limit {limit_text}", Severity.MEDIUM
            )
            continue
        if limit.value is None:
            yield _finding(ctx, check_, db, False, "; ".join(lines) + f"; {limit_text}", Severity.MEDIUM)
            continue
        passed = True
        verdicts: list[str] = []
        proxy = next((p for p in proxies if str(db["DBInstanceIdentifier"]) in p.targets), None)
        direct_budget = limit.value
        if proxy is not None:
            proxy_budget = limit.value * proxy.max_connections_percent // 100
            direct_budget = limit.value - proxy_budget
            if clients.proxied:
                fits = demand["proxied"] <= proxy_budget
                passed &= fits
                verdicts.append(
                    f"through proxy {demand['proxied']} {'≤' if fits else '>'} {proxy_budget} "
                    f"(RDS Proxy {proxy.name} MaxConnectionsPercent {proxy.max_connections_percent} of "
                    f"{limit_text})"
                )
        if clients.direct:
            fits = demand["direct"] <= direct_budget
            passed &= fits
            share = f"{direct_budget} left beside the proxy of " if proxy is not None else ""
            verdicts.append(f"total {demand['direct']} {'≤' if fits else '>'} {share}{limit_text}")
        yield _finding(ctx, check_, db, passed, "; ".join(lines + verdicts))


def _parameter_value(ctx: CheckContext, db: Mapping[str, Any]) -> str | None:
    """max_connections as set in the instance's parameter group, None when the group leaves the default."""
    rds = ctx.client("rds")
    for group in db.get("DBParameterGroups") or []:
        name = group.get("DBParameterGroupName")
        if not name or str(name).startswith("default."):
            continue
        try:
            for page in rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=name):
                for parameter in page.get("Parameters", []):
                    if parameter.get("ParameterName") == "max_connections" and parameter.get("ParameterValue"):
                        return str(parameter["ParameterValue"])
        except ClientError:
            continue
    return None


def _instance_or_proxy(identifier: str, proxy_names: set[str]) -> Callable[[Mapping[str, str]], bool]:
    return lambda dims: dims.get("DBInstanceIdentifier") == identifier or dims.get("ProxyName") in proxy_names


@check(
    "database.connections-alarm",
    "Each database has an alarm on DatabaseConnections",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=("rds", "cloudwatch"),
    why="Connection exhaustion builds up (a deploy, a scale-out, a leak) before it refuses connections; an "
    "alarm well below max_connections gives time to act before every task fails.",
    fix="Add an aws_cloudwatch_metric_alarm on AWS/RDS DatabaseConnections (dimension DBInstanceIdentifier) at "
    "about 80 % of max_connections, with an SNS action.",
    reference="terraform/modules/database (aws_cloudwatch_metric_alarm.connections)",
)
def connections_alarm(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    instances = [db for db in db_instances(ctx) if _primary(db)]
    if not instances:
        return
    alarms = metric_alarms(ctx)
    proxies = db_proxies(ctx)
    for db in instances:
        identifier = str(db["DBInstanceIdentifier"])
        proxy_names = {p.name for p in proxies if identifier in p.targets}
        found = watchers(alarms, "AWS/RDS", ("DatabaseConnections",), _instance_or_proxy(identifier, proxy_names))
        notifying = [a for a in found if notifying_actions(a)]
        environment = _environment(ctx, db)
        severity = Severity.HIGH if environment.production else None
        why = f" ({environment.rule})" if environment.production else ""
        if notifying:
            shown = "; ".join(
                f"{a['AlarmName']} ({a.get('ComparisonOperator', '')} {a.get('Threshold', '')}) → "
                + ", ".join(x.rsplit(":", 1)[-1] for x in notifying_actions(a))
                for a in notifying
            )
            yield _finding(ctx, check_, db, True, shown)
        elif found:
            yield _finding(
                ctx,
                check_,
                db,
                False,
                f"alarm {', '.join(str(a['AlarmName']) for a in found)} has no notifying action{why}",
                severity,
            )
        else:
            yield _finding(
                ctx, check_, db, False, f"no alarm on AWS/RDS DatabaseConnections for this instance{why}", severity
            )
