"""database.* and the max_connections arithmetic behind database.connection-budget.

One account holds a correct production database, a careless dev one, an unsafe production one, a
proxied one and one whose clients do not declare a pool; every database check runs once over it
(module fixture) and the tests assert per instance. Pure helpers are tested without the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from compute_builders import api_task_definition, app_resources, cluster, network, service

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import Check, CheckContext, CheckResult, Finding, Severity, Status
from stackprobe.checks.database import (
    PoolSize,
    backup_plan,
    backup_retention,
    backup_window,
    connection_budget,
    connections_alarm,
    copy_tags_to_snapshot,
    deletion_protection_prod,
    encryption,
    final_snapshot_prod,
    multi_az_prod,
    not_public,
    pool_size,
    selection_covers,
    window_overlap,
)
from stackprobe.checks.rds_capacity import class_memory_gib, evaluate, max_connections
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness
CHECKS: tuple[Check, ...] = (
    backup_retention,
    backup_window,
    copy_tags_to_snapshot,
    encryption,
    multi_az_prod,
    deletion_protection_prod,
    final_snapshot_prod,
    not_public,
    backup_plan,
    connection_budget,
    connections_alarm,
)
PROD = [{"Key": "Environment", "Value": "prod"}]
DEV = [{"Key": "Environment", "Value": "dev"}]


@dataclass(frozen=True)
class Results:
    context: CheckContext
    by_check: dict[str, CheckResult]

    def finding(self, check: Check, identifier: str) -> Finding:
        matches = [f for f in self.by_check[check.id].findings if f.evidence.startswith(f"{identifier}: ")]
        assert len(matches) == 1, [f.evidence for f in self.by_check[check.id].findings]
        return matches[0]

    def identifiers(self, check: Check) -> set[str]:
        return {f.evidence.split(":", 1)[0] for f in self.by_check[check.id].findings}


def _db(backend: AwsBackend, identifier: str, **settings: Any) -> dict[str, Any]:
    rds = backend.client("rds")
    base: dict[str, Any] = {
        "DBInstanceIdentifier": identifier,
        "Engine": "postgres",
        "EngineVersion": "16.3",
        "DBInstanceClass": "db.t3.micro",
        "AllocatedStorage": 20,
        "MasterUsername": "app",
        "MasterUserPassword": "not-a-real-password",
        "PubliclyAccessible": False,
    }
    base.update(settings)
    return dict(rds.create_db_instance(**base)["DBInstance"])


def _alarm(backend: AwsBackend, identifier: str, actions: list[str]) -> None:
    backend.client("cloudwatch").put_metric_alarm(
        AlarmName=f"{identifier}-connections",
        Namespace="AWS/RDS",
        MetricName="DatabaseConnections",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": identifier}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=70,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=actions,
    )


def _state(identifier: str, arn: str, skip: bool) -> dict[str, Any]:
    return {
        "mode": "managed",
        "type": "aws_db_instance",
        "name": identifier.replace("-", "_"),
        "module": "module.database",
        "instances": [
            {
                "attributes": {
                    "identifier": identifier,
                    "arn": arn,
                    "skip_final_snapshot": skip,
                    "final_snapshot_identifier": None if skip else f"{identifier}-final",
                }
            }
        ],
    }


@pytest.fixture(scope="module")
def results(stacks: Run) -> Results:
    backend = stacks.reset_emulator()
    rds, kms, sns = backend.client("rds"), backend.client("kms"), backend.client("sns")
    key = kms.create_key(Description="rds")["KeyMetadata"]["Arn"]
    topic = sns.create_topic(Name="sp-alarms")["TopicArn"]
    rds.create_db_parameter_group(DBParameterGroupName="sp-pg", DBParameterGroupFamily="postgres16", Description="pg")
    rds.modify_db_parameter_group(
        DBParameterGroupName="sp-pg",
        Parameters=[{"ParameterName": "max_connections", "ParameterValue": "200", "ApplyMethod": "pending-reboot"}],
    )

    good = _db(
        backend,
        "good-prod",
        Tags=PROD,
        BackupRetentionPeriod=14,
        PreferredBackupWindow="02:00-03:00",
        PreferredMaintenanceWindow="sun:04:00-sun:05:00",
        CopyTagsToSnapshot=True,
        StorageEncrypted=True,
        KmsKeyId=key,
        MultiAZ=True,
        DeletionProtection=True,
        DBParameterGroupName="sp-pg",
    )
    bad = _db(
        backend,
        "bad-dev",
        Tags=DEV,
        BackupRetentionPeriod=0,
        PreferredBackupWindow="23:30-00:30",
        PreferredMaintenanceWindow="tue:01:00-tue:02:00",
        PubliclyAccessible=True,
    )
    unsafe = _db(
        backend,
        "unsafe-prod",
        Tags=[*PROD, {"Key": "backup", "Value": "yes"}],
        BackupRetentionPeriod=7,
        StorageEncrypted=True,
    )
    _db(backend, "proxied", Tags=DEV, BackupRetentionPeriod=7)
    unknown = _db(backend, "unknown-pool", Tags=DEV, BackupRetentionPeriod=7)
    # Tagged with no environment, in a context where nothing else names one: production rules apply.
    untagged = _db(backend, "untagged", BackupRetentionPeriod=14, MultiAZ=False)

    _alarm(backend, "good-prod", [topic])
    _alarm(backend, "unsafe-prod", [])

    plan = backend.client("backup").create_backup_plan(
        BackupPlan={
            "BackupPlanName": "sp-daily",
            "Rules": [
                {
                    "RuleName": "daily",
                    "TargetBackupVaultName": "sp-vault",
                    "ScheduleExpression": "cron(0 5 * * ? *)",
                    "Lifecycle": {"DeleteAfterDays": 35},
                }
            ],
        }
    )["BackupPlanId"]
    backend.client("backup").create_backup_selection(
        BackupPlanId=plan,
        BackupSelection={
            "SelectionName": "databases",
            "IamRoleArn": "arn:aws:iam::123456789012:role/backup",
            "Resources": [good["DBInstanceArn"]],
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "yes"}],
        },
    )

    net = network(backend)
    proxy = rds.create_db_proxy(
        DBProxyName="sp-proxy",
        EngineFamily="POSTGRESQL",
        RoleArn="arn:aws:iam::123456789012:role/proxy",
        Auth=[{"AuthScheme": "SECRETS", "SecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"}],
        VpcSubnetIds=list(net.subnet_ids),
    )["DBProxy"]
    rds.register_db_proxy_targets(DBProxyName="sp-proxy", DBInstanceIdentifiers=["proxied"])
    rds.modify_db_proxy_target_group(
        DBProxyName="sp-proxy", TargetGroupName="default", ConnectionPoolConfig={"MaxConnectionsPercent": 50}
    )

    resources = app_resources(backend)
    cluster_name = cluster(backend, "sp-db")
    aas = backend.client("application-autoscaling")

    def client(name: str, host: str, maximum: int | None, **env: str) -> None:
        environment = [{"name": "DB_HOST", "value": host}] + [{"name": k, "value": v} for k, v in env.items()]
        td = api_task_definition(backend, resources, family=name, environment=environment, secrets=[])
        service(backend, net, cluster_name, name, td, desired=2, maximum_percent=200)
        if maximum is not None:
            aas.register_scalable_target(
                ServiceNamespace="ecs",
                ResourceId=f"service/{cluster_name}/{name}",
                ScalableDimension="ecs:service:DesiredCount",
                MinCapacity=2,
                MaxCapacity=maximum,
            )

    client("good-api", good["Endpoint"]["Address"], 4, DB_POOL_SIZE="5", DB_MAX_OVERFLOW="5")
    client("greedy-api", bad["Endpoint"]["Address"], 10, DB_POOL_SIZE="50")
    client("proxy-api", proxy["Endpoint"], 4, DB_POOL_SIZE="2")
    client("mystery-api", unknown["Endpoint"]["Address"], None)
    # No pool size declared, but a SQLAlchemy URL: SQLAlchemy's documented defaults size the pool.
    alchemy_host = untagged["Endpoint"]["Address"]
    client("alchemy-api", alchemy_host, None, DATABASE_URL=f"postgresql+psycopg://app@{alchemy_host}:5432/app")

    state = {
        "resources": [
            _state("good-prod", good["DBInstanceArn"], False),
            _state("unsafe-prod", unsafe["DBInstanceArn"], True),
        ]
    }
    context = CheckContext(backend=backend, state=state)
    return Results(context, {check.id: run_check(check, context) for check in CHECKS})


# -- backups ------------------------------------------------------------------------------------------------


def test_backup_retention(results: Results) -> None:
    assert results.finding(backup_retention, "good-prod").evidence == (
        "good-prod: BackupRetentionPeriod=14 (≥ 14 days; production: tag Environment=prod)"
    )
    zero = results.finding(backup_retention, "bad-dev")
    assert not zero.passed and zero.severity is Severity.HIGH
    assert "BackupRetentionPeriod=0: automated backups and point-in-time recovery are off" in zero.evidence
    short = results.finding(backup_retention, "unsafe-prod")
    assert not short.passed and short.severity is None
    assert short.evidence == "unsafe-prod: BackupRetentionPeriod=7 (< 14 days; production: tag Environment=prod)"
    proxied = results.finding(backup_retention, "proxied")
    assert proxied.passed
    assert proxied.evidence == "proxied: BackupRetentionPeriod=7 (≥ 7 days; not production: tag Environment=dev)"


def test_backup_window(results: Results) -> None:
    good = results.finding(backup_window, "good-prod")
    assert good.passed
    assert good.evidence == "good-prod: backup 02:00-03:00 (daily) and maintenance sun:04:00-sun:05:00 do not overlap"
    assert results.finding(backup_window, "bad-dev").passed  # wraps midnight, ends before Tuesday 01:00


class _StubRds:
    """DescribeDBInstances answering an overlap that AWS (and moto) refuse on create and modify."""

    def can_paginate(self, name: str) -> bool:
        return True

    def get_paginator(self, name: str) -> _StubRds:
        return self

    def paginate(self) -> list[dict[str, Any]]:
        return [
            {
                "DBInstances": [
                    {
                        "DBInstanceIdentifier": "legacy",
                        "DBInstanceArn": "arn:aws:rds:eu-west-1:123456789012:db:legacy",
                        "PreferredBackupWindow": "03:00-04:00",
                        "PreferredMaintenanceWindow": "mon:03:30-mon:04:30",
                    }
                ]
            }
        ]


class _StubBackend:
    region = "eu-west-1"

    def client(self, service: str, region_name: str | None = None) -> _StubRds:
        return _StubRds()

    def serves(self, service: str) -> bool:
        return True

    def unavailable_reason(self, service: str) -> None:
        return None


def test_backup_window_fails_on_an_overlap() -> None:
    # Not reachable through the API (RDS rejects it, and so does moto), hence a stubbed read-back.
    result = run_check(backup_window, CheckContext(backend=_StubBackend()))  # type: ignore[arg-type]
    (finding,) = result.findings
    assert not finding.passed
    assert finding.evidence == "legacy: backup 03:00-04:00 overlaps maintenance mon:03:30-mon:04:30 on mon"


@pytest.mark.parametrize(
    ("backup", "maintenance", "day"),
    [
        ("02:00-03:00", "sun:04:00-sun:05:00", None),
        ("03:00-04:00", "mon:03:30-mon:04:30", "mon"),
        ("04:00-04:30", "wed:04:30-wed:05:00", None),  # touching is not overlapping
        ("23:30-00:30", "tue:00:00-tue:01:00", "mon"),  # backup wraps past midnight
        ("01:00-02:00", "sun:23:00-mon:01:30", "mon"),  # maintenance wraps past the end of the week
        ("12:00-13:00", "sun:23:00-mon:01:30", None),
    ],
)
def test_window_overlap(backup: str, maintenance: str, day: str | None) -> None:
    assert window_overlap(backup, maintenance) == day


def test_copy_tags_to_snapshot(results: Results) -> None:
    assert_check(results.context, copy_tags_to_snapshot, Status.FAIL)
    assert results.finding(copy_tags_to_snapshot, "good-prod").passed
    finding = results.finding(copy_tags_to_snapshot, "bad-dev")
    assert not finding.passed and finding.evidence == "bad-dev: CopyTagsToSnapshot=false"


def test_backup_plan_selection_by_arn_and_by_tag(results: Results) -> None:
    assert_check(results.context, backup_plan, Status.FAIL)
    by_arn = results.finding(backup_plan, "good-prod")
    assert by_arn.passed
    assert "plan sp-daily selection databases by ARN arn:aws:rds:" in by_arn.evidence
    assert "rules: daily (cron(0 5 * * ? *), 35 d)" in by_arn.evidence
    by_tag = results.finding(backup_plan, "unsafe-prod")
    assert by_tag.passed and "by tag backup=yes" in by_tag.evidence
    missing = results.finding(backup_plan, "bad-dev")
    assert not missing.passed and missing.severity is None
    assert missing.evidence == "bad-dev: no selection of the 1 backup plan(s) covers it"
    unknown = results.finding(backup_plan, "untagged")
    assert not unknown.passed and unknown.severity is Severity.HIGH
    assert unknown.evidence == (
        "untagged: no selection of the 1 backup plan(s) covers it "
        "(production rules: environment unknown, set --environment to change)"
    )


def test_selection_semantics() -> None:
    arn = "arn:aws:rds:eu-west-1:123456789012:db:orders"
    assert selection_covers({"Resources": ["arn:aws:rds:*:*:db:*"]}, arn, {}) == "by ARN arn:aws:rds:*:*:db:*"
    assert selection_covers({"Resources": ["arn:aws:rds:*:*:db:*"], "NotResources": [arn]}, arn, {}) is None
    conditions = {"StringEquals": [{"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "daily"}]}
    assert selection_covers({"Conditions": conditions}, arn, {"backup": "daily"}) == (
        "by tag conditions aws:ResourceTag/backup=daily"
    )
    assert selection_covers({"Conditions": conditions}, arn, {"backup": "never"}) is None
    assert selection_covers({"Resources": ["*"], "Conditions": conditions}, arn, {}) is None


# -- encryption, exposure, production safety nets ---------------------------------------------------------------


def test_encryption(results: Results) -> None:
    assert_check(results.context, encryption, Status.FAIL)
    good = results.finding(encryption, "good-prod")
    assert good.passed and "StorageEncrypted=true with customer key arn:aws:kms:" in good.evidence
    plain = results.finding(encryption, "bad-dev")
    assert not plain.passed and plain.evidence == "bad-dev: StorageEncrypted=false" and plain.severity is None
    default_key = results.finding(encryption, "unsafe-prod")
    assert not default_key.passed and default_key.severity is Severity.LOW
    assert "(not a customer key)" in default_key.evidence or "aws/rds" in default_key.evidence


def test_production_safety_nets(results: Results) -> None:
    good = results.finding(multi_az_prod, "good-prod")
    assert good.evidence == "good-prod: MultiAZ=true (production: tag Environment=prod)"
    unsafe = results.finding(multi_az_prod, "unsafe-prod")
    assert unsafe.evidence == "unsafe-prod: MultiAZ=false (production: tag Environment=prod)"
    assert not results.finding(deletion_protection_prod, "unsafe-prod").passed
    assert results.finding(deletion_protection_prod, "good-prod").passed
    # Nothing names the untagged instance's environment: production rules apply, and the evidence says so.
    untagged = results.finding(multi_az_prod, "untagged")
    assert not untagged.passed
    assert untagged.evidence == (
        "untagged: MultiAZ=false (production rules: environment unknown, set --environment to change)"
    )
    # Instances tagged as another environment are not judged by production-only rules.
    assert results.identifiers(multi_az_prod) == {"good-prod", "unsafe-prod", "untagged"}
    assert results.identifiers(deletion_protection_prod) == {"good-prod", "unsafe-prod", "untagged"}


def test_final_snapshot_read_from_state(results: Results) -> None:
    good = results.finding(final_snapshot_prod, "good-prod")
    assert good.passed
    assert "skip_final_snapshot=false in the Terraform state (module.database.aws_db_instance.good_prod;" in (
        good.evidence
    )
    skipped = results.finding(final_snapshot_prod, "unsafe-prod")
    assert not skipped.passed and "skip_final_snapshot=true" in skipped.evidence
    assert skipped.address == "module.database.aws_db_instance.unsafe_prod"


def test_not_public(results: Results) -> None:
    public = results.finding(not_public, "bad-dev")
    assert not public.passed and public.evidence == "bad-dev: PubliclyAccessible=true"
    assert results.finding(not_public, "good-prod").passed
    assert results.by_check[not_public.id].status is Status.FAIL


# -- connections ----------------------------------------------------------------------------------------------------


def test_connection_budget_passes_within_the_parameter_group_limit(results: Results) -> None:
    finding = results.finding(connection_budget, "good-prod")
    assert finding.passed, finding.evidence
    assert (
        "sp-db/good-api (direct): 4 MaxCapacity x 200% deployment maximumPercent = 8 tasks x 10 "
        "(DB_POOL_SIZE=5 DB_MAX_OVERFLOW=5) = 80"
    ) in finding.evidence
    assert "total 80 ≤ 200 (db.t3.micro postgres max_connections, parameter group sets 200)" in finding.evidence


def test_connection_budget_fails_when_pools_exceed_max_connections(results: Results) -> None:
    finding = results.finding(connection_budget, "bad-dev")
    assert not finding.passed and finding.severity is None
    assert "10 MaxCapacity x 200% deployment maximumPercent = 20 tasks x 50 (DB_POOL_SIZE=50) = 1000" in (
        finding.evidence
    )
    assert "total 1000 > 87 (db.t3.micro postgres max_connections, engine default" in finding.evidence


def test_connection_budget_through_rds_proxy(results: Results) -> None:
    finding = results.finding(connection_budget, "proxied")
    assert finding.passed, finding.evidence
    assert "sp-db/proxy-api (via RDS Proxy sp-proxy): 4 MaxCapacity x 200%" in finding.evidence
    assert "through proxy 16 ≤ 43 (RDS Proxy sp-proxy MaxConnectionsPercent 50 of 87" in finding.evidence


def test_connection_budget_neither_passes_nor_fails_an_undeterminable_pool(results: Results) -> None:
    """No pool size and no framework to read a default from: "not determinable", saying what to declare, beside
    the instances it could judge (it once failed the service for a pool size it did not know)."""
    assert "unknown-pool" not in results.identifiers(connection_budget)
    result = results.by_check[connection_budget.id]
    assert result.status is Status.FAIL  # bad-dev's pools exceed its limit
    assert result.not_applicable_reason.startswith(
        "not determinable: unknown-pool: sp-db/mystery-api (direct): pool size not determinable: none of "
        "DB_POOL_SIZE, POOL_SIZE"
    )
    assert "declare DB_POOL_SIZE (and DB_MAX_OVERFLOW) in the task definition" in result.not_applicable_reason
    # No client at all: nothing to add up, and the reason says so.
    assert "unsafe-prod" not in results.identifiers(connection_budget)
    assert "no ECS service connects to unsafe-prod" in result.not_applicable_reason


def test_connection_budget_reads_a_frameworks_documented_default(results: Results) -> None:
    finding = results.finding(connection_budget, "untagged")
    assert finding.passed, finding.evidence
    assert "x 15 (default: SQLAlchemy's QueuePool default pool_size 5 + max_overflow 10) = 60" in finding.evidence


def test_pool_size_from_the_environment() -> None:
    sized = pool_size({"SQLALCHEMY_POOL_SIZE": "5", "SQLALCHEMY_MAX_OVERFLOW": "10", "WEB_CONCURRENCY": "3"})
    assert sized.per_task == 45
    assert sized.explanation == "SQLALCHEMY_POOL_SIZE=5 SQLALCHEMY_MAX_OVERFLOW=10 x WEB_CONCURRENCY=3"
    assert pool_size({"DB_POOL_SIZE": "abc"}).per_task is None
    assert pool_size({"DB_POOL_SIZE": "abc"}).explanation.startswith("pool size not determinable")


@pytest.mark.parametrize(
    ("env", "per_task", "explanation"),
    [
        ({"SQLALCHEMY_POOL_SIZE": "8"}, 18, "SQLALCHEMY_POOL_SIZE=8 + default max_overflow 10 (SQLAlchemy)"),
        (
            {"DATABASE_URL": "postgresql+asyncpg://db/app", "WEB_CONCURRENCY": "2"},
            30,
            "default: SQLAlchemy's QueuePool default pool_size 5 + max_overflow 10 x WEB_CONCURRENCY=2",
        ),
        ({"SQLALCHEMY_ECHO": "0", "DB_MAX_OVERFLOW": "0"}, 5, "default pool size 5 (SQLAlchemy) DB_MAX_OVERFLOW=0"),
        ({"RAILS_ENV": "production"}, 5, "default: Rails' database.yml default pool = RAILS_MAX_THREADS (5)"),
        ({"RAILS_MAX_THREADS": "3"}, 3, "default: Rails' database.yml default pool = RAILS_MAX_THREADS (3)"),
        ({"SPRING_DATASOURCE_URL": "jdbc:postgresql://db/app"}, 10, "default: HikariCP's default maximumPoolSize 10"),
        (
            {"DJANGO_SETTINGS_MODULE": "site.settings"},
            1,
            "default: Django's one connection per worker thread, 1 thread by default",
        ),
    ],
)
def test_pool_size_from_a_frameworks_documented_default(env: dict[str, str], per_task: int, explanation: str) -> None:
    assert pool_size(env) == PoolSize(per_task, explanation)


def test_connections_alarm(results: Results) -> None:
    good = results.finding(connections_alarm, "good-prod")
    assert good.passed and "good-prod-connections (GreaterThanThreshold 70.0) → sp-alarms" in good.evidence
    silent = results.finding(connections_alarm, "unsafe-prod")
    assert not silent.passed and silent.severity is Severity.HIGH
    assert silent.evidence == (
        "unsafe-prod: alarm unsafe-prod-connections has no notifying action (production: tag Environment=prod)"
    )
    missing = results.finding(connections_alarm, "bad-dev")
    assert not missing.passed and missing.severity is None
    assert missing.evidence == "bad-dev: no alarm on AWS/RDS DatabaseConnections for this instance"


@pytest.mark.parametrize(
    ("engine", "instance_class", "parameter", "expected"),
    [
        ("postgres", "db.t3.micro", None, 87),
        ("mysql", "db.t3.micro", None, 66),
        ("postgres", "db.r6g.4xlarge", None, 5000),  # LEAST(..., 5000)
        ("postgres", "db.t4g.small", "{DBInstanceClassMemory/9531392}", 196),
        ("postgres", "db.m7g.large", "LEAST({DBInstanceClassMemory/9531392},300)", 300),
        ("postgres", "db.t3.micro", "500", 500),
        ("postgres", "db.unknown.size", None, None),
    ],
)
def test_max_connections(engine: str, instance_class: str, parameter: str | None, expected: int | None) -> None:
    assert max_connections(engine, instance_class, parameter).value == expected


def test_class_memory_table_and_formula_evaluation() -> None:
    assert class_memory_gib("db.t4g.micro") == 1
    assert class_memory_gib("db.m6g.2xlarge") == 32
    assert class_memory_gib("db.r7g.4xlarge") == 128
    assert class_memory_gib("db.r6i.8xlarge") == 256  # by the vCPU x GiB-per-vCPU rule
    assert evaluate("GREATEST({DBInstanceClassMemory/1000}, 10) - 2", {"DBInstanceClassMemory": 5000}) == 8


def test_not_applicable_without_databases(clean_backend: AwsBackend) -> None:
    context = CheckContext(backend=clean_backend)
    for check in CHECKS:
        assert run_check(check, context).status is Status.NOT_APPLICABLE, check.id
