"""RDS: backups, encryption, production safety nets, exposure, and the connection budget.

Every check reads the instances back from the account (DescribeDBInstances) and judges what AWS
reports; a setting the configuration leaves unset is judged by AWS's default for it, which an emulator
may not report (moto answers BackupRetentionPeriod=0 where AWS keeps 1 day). Aurora cluster members are
left to cluster-level rules (their backups, encryption and deletion protection belong to the cluster);
read replicas are skipped where a setting only applies to a primary (backups, final snapshot, backup
plan, connection budget). A value the audit cannot read (a pool size) is a framework's documented default
when the task shows the framework, else "not determinable", naming what to declare.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from stackprobe.aws.environment import EnvironmentDecision, relaxed_reason
from stackprobe.aws.readers.rds import DbInstance, DbProxy
from stackprobe.aws.workloads import Workload, task_ceiling
from stackprobe.checks.alarms import notifying_actions, watchers
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check, without_index
from stackprobe.checks.rds_capacity import MaxConnections, engine_family, max_connections
from stackprobe.errors import NotApplicable

MIN_RETENTION_DAYS = 7
MIN_PROD_RETENTION_DAYS = 14
# CreateDBInstance's BackupRetentionPeriod when the request leaves it out (the RDS API reference: "Default: 1").
AWS_DEFAULT_RETENTION_DAYS = 1
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MINUTES = 7 * 1440
# Environment variables that size a connection pool, per process; overflow is added on top.
POOL_SIZE_KEYS = ("DB_POOL_SIZE", "POOL_SIZE", "DB_MAX_CONNECTIONS", "SQLALCHEMY_POOL_SIZE", "DATABASE_POOL_SIZE")
OVERFLOW_KEYS = ("DB_MAX_OVERFLOW", "SQLALCHEMY_MAX_OVERFLOW", "MAX_OVERFLOW", "DB_POOL_MAX_OVERFLOW")
# Names that say "this process talks to a database" when the host itself cannot be matched.
DB_HINT_KEYS = ("DB_HOST", "DATABASE_HOST", "DATABASE_URL", "PGHOST", "POSTGRES_HOST", "MYSQL_HOST", "DB_SECRET")


def _environment(ctx: CheckContext, db: DbInstance) -> EnvironmentDecision:
    return ctx.decision.for_resource(db.tags)


def _finding(
    ctx: CheckContext,
    check_: Check,
    db: DbInstance,
    passed: bool,
    evidence: str,
    severity: Severity | None = None,
) -> Finding:
    return ctx.finding(
        check_,
        passed,
        db.arn,
        f"{db.identifier}: {evidence}",
        db.identifier,
        db.raw.get("DbiResourceId"),
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
    reads=("aws_db_instance",),
)
def backup_retention(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in ctx.account.rds.instances():
        if not db.primary:
            continue
        reported = int(db.raw.get("BackupRetentionPeriod") or 0)
        # Left unset, the instance gets AWS's default, whatever an emulator reports for it.
        unset = configures(ctx, db, "backup_retention_period") is False
        days = AWS_DEFAULT_RETENTION_DAYS if unset else reported
        shown = f"BackupRetentionPeriod={days}"
        if unset:
            shown = f"backup_retention_period not set: AWS's default BackupRetentionPeriod={days}" + (
                f" (the emulator reports {reported})" if reported != days else ""
            )
        environment = _environment(ctx, db)
        required = MIN_PROD_RETENTION_DAYS if environment.production else MIN_RETENTION_DAYS
        if days == 0:
            evidence = f"{shown}: automated backups and point-in-time recovery are off"
            yield _finding(ctx, check_, db, False, evidence, Severity.HIGH)
        else:
            relation = "≥" if days >= required else "<"
            evidence = f"{shown} ({relation} {required} days; {environment.rule})"
            yield _finding(ctx, check_, db, days >= required, evidence)


def configures(ctx: CheckContext, db: DbInstance, attribute: str) -> bool | None:
    """Whether the configuration sets `attribute` of the aws_db_instance behind `db` to a value (None: the plan
    does not know the instance). An argument written as null (a variable defaulting to null) sets nothing."""
    address = ctx.address_for(db.arn, db.identifier)
    if ctx.plan is None or address is None:
        return None
    parts = without_index(address).split(".")
    module: Mapping[str, Any] = ctx.plan.configuration().get("root_module") or {}
    while len(parts) > 2 and parts[0] == "module":
        module = ((module.get("module_calls") or {}).get(parts[1]) or {}).get("module") or {}
        parts = parts[2:]
    written = next((r for r in module.get("resources") or [] if r.get("address") == ".".join(parts)), None)
    if written is None:
        return None
    if attribute not in (written.get("expressions") or {}):
        return False
    try:
        return ctx.plan.resource(address).get(attribute) is not None
    except KeyError:
        return True  # written, and the plan holds no instance at that address to say it is null


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
    reads=("aws_db_instance",),
)
def backup_window(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in ctx.account.rds.instances():
        backup, maintenance = db.raw.get("PreferredBackupWindow"), db.raw.get("PreferredMaintenanceWindow")
        if not db.primary or not backup or not maintenance:
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
    reads=("aws_db_instance",),
)
def copy_tags_to_snapshot(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in ctx.account.rds.instances():
        if db.standalone:
            copies = bool(db.raw.get("CopyTagsToSnapshot"))
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
    reads=("aws_db_instance",),
)
def encryption(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in ctx.account.rds.instances():
        if not db.standalone:
            continue
        if not db.raw.get("StorageEncrypted"):
            yield _finding(ctx, check_, db, False, "StorageEncrypted=false")
            continue
        key = str(db.raw.get("KmsKeyId") or "")
        manager = ctx.account.kms.manager(key) if key else None
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
    reads=("aws_db_instance",),
)
def multi_az_prod(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    found: list[Finding] = []
    relaxed: list[EnvironmentDecision] = []
    for db in ctx.account.rds.instances():
        environment = _environment(ctx, db)
        if db.primary and not environment.production:
            relaxed.append(environment)
        elif db.primary:
            multi = bool(db.raw.get("MultiAZ"))
            found.append(_finding(ctx, check_, db, multi, f"MultiAZ={str(multi).lower()} ({environment.rule})"))
    yield from _or_relaxed(found, relaxed)


def _or_relaxed(found: list[Finding], relaxed: list[EnvironmentDecision]) -> list[Finding]:
    """`found`; when a production-only rule found nothing because of the environment, NotApplicable saying so."""
    if not found and relaxed:
        raise NotApplicable(relaxed_reason(relaxed))
    return found


@check(
    "database.deletion-protection-prod",
    "Production databases have deletion protection",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("rds",),
    why="Without it one API call, console click or `terraform destroy` deletes the production database.",
    fix="Set deletion_protection = true for production instances.",
    reference="terraform/modules/database (deletion_protection)",
    reads=("aws_db_instance",),
)
def deletion_protection_prod(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    found: list[Finding] = []
    relaxed: list[EnvironmentDecision] = []
    for db in ctx.account.rds.instances():
        environment = _environment(ctx, db)
        if db.standalone and not environment.production:
            relaxed.append(environment)
        elif db.standalone:
            protected = bool(db.raw.get("DeletionProtection"))
            evidence = f"DeletionProtection={str(protected).lower()} ({environment.rule})"
            found.append(_finding(ctx, check_, db, protected, evidence))
    yield from _or_relaxed(found, relaxed)


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
    reads=("aws_db_instance",),
)
def final_snapshot_prod(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    # The final-snapshot choice is a DeleteDBInstance parameter: the RDS API does not expose it, so the
    # Terraform state's skip_final_snapshot is the only place to read it (no state, no finding).
    in_state = {
        str(r.attributes["identifier"]): r
        for r in ctx.state_resources("aws_db_instance")
        if r.attributes.get("identifier")
    }
    found: list[Finding] = []
    relaxed: list[EnvironmentDecision] = []
    for db in ctx.account.rds.instances():
        environment = _environment(ctx, db)
        if not db.primary or db.identifier not in in_state:
            continue
        if not environment.production:
            relaxed.append(environment)
            continue
        address, attributes = in_state[db.identifier].address, in_state[db.identifier].attributes
        skip = bool(attributes.get("skip_final_snapshot"))
        snapshot = attributes.get("final_snapshot_identifier")
        evidence = (
            f"skip_final_snapshot={str(skip).lower()} in the Terraform state ({address}; not visible "
            "through the RDS API)"
            + ("" if skip else f", final_snapshot_identifier={snapshot}")
            + f" ({environment.rule})"
        )
        found.append(_finding(ctx, check_, db, not skip, evidence))
    yield from _or_relaxed(found, relaxed)


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
    reads=("aws_db_instance",),
)
def not_public(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for db in ctx.account.rds.instances():
        public = bool(db.raw.get("PubliclyAccessible"))
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
    reads=("aws_db_instance",),
)
def backup_plan(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    instances = [db for db in ctx.account.rds.instances() if db.primary]
    if not instances:
        return
    plans = ctx.account.backup.plans()
    for db in instances:
        tags = {t["Key"]: t.get("Value", "") for t in db.tags}
        selected = [
            (plan, f"plan {plan.name} selection {selection.get('SelectionName')} {how}")
            for plan in plans
            for selection in plan.selections
            if (how := selection_covers(selection, db.arn, tags)) is not None
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
class PoolSize:
    per_task: int | None
    explanation: str


@dataclass(frozen=True)
class PoolDefault:
    """What a framework opens per process when the task declares no pool size, as its documentation says."""

    framework: str
    pool: int
    overflow: int
    documented: str  # the default, as the evidence quotes it


# A URL in SQLAlchemy's dialect+driver form (postgresql+psycopg2://): only SQLAlchemy reads these.
_SQLALCHEMY_URL = re.compile(r"^[a-z][a-z0-9]*\+[a-z0-9_]+://")


def framework_default(env: Mapping[str, str]) -> PoolDefault | None:
    """The documented pool default of the framework the task's environment shows, or None when none shows."""
    if any(k.startswith("SQLALCHEMY_") for k in env) or any(_SQLALCHEMY_URL.match(v) for v in env.values()):
        return PoolDefault("SQLAlchemy", 5, 10, "SQLAlchemy's QueuePool default pool_size 5 + max_overflow 10")
    if "RAILS_ENV" in env or "RAILS_MAX_THREADS" in env:
        threads = env.get("RAILS_MAX_THREADS", "").strip()
        size = int(threads) if threads.isdigit() else 5
        return PoolDefault("Rails", size, 0, f"Rails' database.yml default pool = RAILS_MAX_THREADS ({size})")
    if any(k.startswith("SPRING_DATASOURCE") or k == "SPRING_PROFILES_ACTIVE" for k in env):
        return PoolDefault("Spring Boot", 10, 0, "HikariCP's default maximumPoolSize 10")
    if "DJANGO_SETTINGS_MODULE" in env:
        return PoolDefault("Django", 1, 0, "Django's one connection per worker thread, 1 thread by default")
    return None


def pool_size(env: Mapping[str, str]) -> PoolSize:
    """Connections one task can hold: pool (+ overflow) per process, times WEB_CONCURRENCY when declared.

    A size the task does not declare is the documented default of the framework its environment shows
    (the evidence says "default"); with neither, the size is not determinable, and the explanation says what
    to declare."""

    def number(keys: tuple[str, ...]) -> tuple[str, int] | None:
        for key in keys:
            if re.fullmatch(r"\d+", env.get(key, "").strip()):
                return key, int(env[key])
        return None

    default = framework_default(env)
    pool, overflow = number(POOL_SIZE_KEYS), number(OVERFLOW_KEYS)
    if pool is not None:
        total, parts = pool[1], [f"{pool[0]}={pool[1]}"]
        if overflow is None and default is not None and default.overflow:
            total += default.overflow
            parts.append(f"+ default max_overflow {default.overflow} ({default.framework})")
    elif default is not None and overflow is None:
        total, parts = default.pool + default.overflow, [f"default: {default.documented}"]
    elif default is not None:
        total, parts = default.pool, [f"default pool size {default.pool} ({default.framework})"]
    else:
        return PoolSize(
            None,
            f"pool size not determinable: none of {', '.join(POOL_SIZE_KEYS)} in the task definition, and no "
            "framework with a documented default (SQLAlchemy, Rails, Spring Boot, Django) shows in its "
            "environment; declare DB_POOL_SIZE (and DB_MAX_OVERFLOW) in the task definition",
        )
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
    db: DbInstance, workloads: Sequence[Workload], proxies: Sequence[DbProxy], only_database: bool
) -> Clients:
    clients = Clients()
    address, master_secret = db.endpoint_address, db.master_secret_arn
    fronting = [p for p in proxies if db.identifier in p.targets]
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
    reads=("aws_db_instance",),
)
def connection_budget(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    instances = [
        db for db in ctx.account.rds.instances() if db.primary and engine_family(str(db.raw.get("Engine", "")))
    ]
    if not instances:
        raise NotApplicable("no primary PostgreSQL, MySQL or MariaDB instance (other engines' limits are not modelled)")
    workloads = ctx.account.ecs.workloads()
    targets = ctx.account.autoscaling.scalable_targets()
    proxies = ctx.account.rds.proxies()
    found: list[Finding] = []
    unconnected: list[str] = []
    undetermined: list[str] = []
    for db in instances:
        clients = database_clients(db, workloads, proxies, only_database=len(instances) == 1)
        if not clients.direct and not clients.proxied:
            unconnected.append(db.identifier)
            continue
        engine, klass = str(db.raw["Engine"]), str(db.raw["DBInstanceClass"])
        limit = _engine_limit(ctx, db, max_connections(engine, klass, _parameter_value(ctx, db)))
        demand = _demand(clients, targets)
        verdict = _verdict(ctx, check_, db, clients, demand, limit.value, limit.describe(klass, engine), proxies)
        # What is known already over the limit fails whatever the rest holds; anything else needs every number.
        if verdict is not None and (not demand.unknown or not verdict.passed):
            found.append(verdict)
        else:
            missing = demand.unknown or [f"{limit.describe(klass, engine)}; set max_connections in its parameter group"]
            undetermined.append(f"{db.identifier}: " + "; ".join(missing))
    yield from found
    reasons = [f"not determinable: {text}" for text in undetermined]
    if unconnected:
        reasons.append(
            f"no ECS service connects to {', '.join(unconnected)} (by its endpoint, an RDS Proxy in front of "
            "it, its master secret, or DB_* settings when it is the only database)"
        )
    if reasons:
        # Beside the findings (or instead of them): the instances this check could not judge, and why.
        raise NotApplicable("; ".join(reasons))


@dataclass
class _Demand:
    """The connections the services can open at their maximum scale, and the services whose pool is unknown."""

    lines: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    direct: int = 0
    proxied: int = 0


def _demand(clients: Clients, targets: Mapping[str, Mapping[str, Any]]) -> _Demand:
    demand = _Demand()
    for proxied, group in ((False, clients.direct), (True, clients.proxied)):
        for workload, how in group:
            ceiling = task_ceiling(workload, targets.get(workload.resource_id))
            pool = pool_size(workload.all_environment())
            if pool.per_task is None:
                demand.unknown.append(f"{workload.label} ({how}): {pool.explanation}")
                continue
            connections = ceiling.tasks * pool.per_task
            if proxied:
                demand.proxied += connections
            else:
                demand.direct += connections
            explained = f"{ceiling.explanation} x {pool.per_task} ({pool.explanation})"
            demand.lines.append(f"{workload.label} ({how}): {explained} = {connections}")
    return demand


def _verdict(
    ctx: CheckContext,
    check_: Check,
    db: DbInstance,
    clients: Clients,
    demand: _Demand,
    limit: int | None,
    limit_text: str,
    proxies: Sequence[DbProxy],
) -> Finding | None:
    """The demand against max_connections (and a proxy's share of it); None when the limit is not known."""
    if limit is None:
        return None
    passed = True
    verdicts: list[str] = []
    proxy = next((p for p in proxies if db.identifier in p.targets), None)
    direct_budget = limit
    if proxy is not None:
        proxy_budget = limit * proxy.max_connections_percent // 100
        direct_budget = limit - proxy_budget
        if clients.proxied:
            fits = demand.proxied <= proxy_budget
            passed &= fits
            verdicts.append(
                f"through proxy {demand.proxied} {'≤' if fits else '>'} {proxy_budget} "
                f"(RDS Proxy {proxy.name} MaxConnectionsPercent {proxy.max_connections_percent} of {limit_text})"
            )
    if clients.direct:
        fits = demand.direct <= direct_budget
        passed &= fits
        share = f"{direct_budget} left beside the proxy of " if proxy is not None else ""
        verdicts.append(f"total {demand.direct} {'≤' if fits else '>'} {share}{limit_text}")
    unknown = [f"also not determinable: {text}" for text in demand.unknown]
    return _finding(ctx, check_, db, passed, "; ".join(demand.lines + verdicts + unknown))


def _engine_limit(ctx: CheckContext, db: DbInstance, modelled: MaxConnections) -> MaxConnections:
    """Where a local datastore stands in for the instance (--datastore), the connections its engine really gives
    non-superuser roles: max_connections as it runs with the class's and parameter group's value, less the
    connections it reserves for superusers. Else what the model says."""
    if ctx.datastores is None:
        return modelled
    facts = ctx.datastores.facts(ctx, db.identifier)
    if facts is None:
        missing = ctx.datastores.unavailable(ctx, db.identifier)
        if missing is None:
            return modelled
        return MaxConnections(modelled.value, f"{modelled.source}; not read from the engine: {missing}")
    running = facts.values.get("max_connections", "")
    reserved = facts.values.get("superuser_reserved_connections", "0")
    if not running.isdigit():
        return modelled
    usable = int(running) - (int(reserved) if reserved.isdigit() else 0)
    held = f", less {reserved} reserved for superusers" if reserved.isdigit() and int(reserved) else ""
    return MaxConnections(
        usable,
        f"read from the engine: {facts.server} runs with max_connections {running} ({modelled.source}){held}",
    )


def _parameter_value(ctx: CheckContext, db: DbInstance) -> str | None:
    """max_connections as set in the instance's parameter group, None when the group leaves the default."""
    for group in db.raw.get("DBParameterGroups") or []:
        name = group.get("DBParameterGroupName")
        if not name or str(name).startswith("default."):
            continue
        try:
            parameters = ctx.account.rds.parameters(str(name))
        except ClientError:
            continue
        for parameter in parameters:
            if parameter.get("ParameterName") == "max_connections" and parameter.get("ParameterValue"):
                return str(parameter["ParameterValue"])
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
    reads=("aws_db_instance",),
)
def connections_alarm(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    instances = [db for db in ctx.account.rds.instances() if db.primary]
    if not instances:
        return
    alarms = ctx.account.cloudwatch.metric_alarms()
    proxies = ctx.account.rds.proxies()
    for db in instances:
        identifier = db.identifier
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
