"""RDS: unique DbiResourceIds, read replicas, parameter Source, and Performance Insights read back."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = (
    "rds-instance-identity",
    "rds-parameter-source",
    "rds-performance-insights",
    "rds-performance-insights-create",
)

_names = (f"compat-db-{n}" for n in itertools.count())


def _instance(backend: AwsBackend, **extra: Any) -> dict[str, Any]:
    answer = backend.client("rds").create_db_instance(
        DBInstanceIdentifier=next(_names),
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        EngineVersion="16.3",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="secret-password",
        **extra,
    )
    return dict(answer["DBInstance"])


def _by_resource_id(backend: AwsBackend, resource_id: str) -> list[dict[str, Any]]:
    # The provider's lookup: aws_db_instance's id is the DbiResourceId.
    found = backend.client("rds").describe_db_instances(Filters=[{"Name": "dbi-resource-id", "Values": [resource_id]}])
    return list(found["DBInstances"])


def test_each_instance_has_its_own_resource_id(backend: AwsBackend) -> None:
    first = _instance(backend)
    second = _instance(backend)

    assert first["DbiResourceId"] != second["DbiResourceId"]
    assert first["DbiResourceId"].startswith("db-") and len(first["DbiResourceId"]) == 29
    assert [i["DBInstanceIdentifier"] for i in _by_resource_id(backend, second["DbiResourceId"])] == [
        second["DBInstanceIdentifier"]
    ]


def test_read_replica_is_an_instance_of_its_own(backend: AwsBackend) -> None:
    rds = backend.client("rds")
    primary = _instance(backend, Tags=[{"Key": "role", "Value": "primary"}], EnablePerformanceInsights=True)
    replica_id = next(_names)

    rds.create_db_instance_read_replica(
        DBInstanceIdentifier=replica_id,
        SourceDBInstanceIdentifier=primary["DBInstanceIdentifier"],
        DBInstanceClass="db.t3.micro",
        Tags=[{"Key": "role", "Value": "replica"}],
    )
    replica = rds.describe_db_instances(DBInstanceIdentifier=replica_id)["DBInstances"][0]
    primary_now = rds.describe_db_instances(DBInstanceIdentifier=primary["DBInstanceIdentifier"])["DBInstances"][0]

    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == primary["DBInstanceIdentifier"]
    assert replica["DbiResourceId"] != primary["DbiResourceId"]
    assert [i["DBInstanceIdentifier"] for i in _by_resource_id(backend, replica["DbiResourceId"])] == [replica_id]
    assert replica["TagList"] == [{"Key": "role", "Value": "replica"}]
    assert replica["PerformanceInsightsEnabled"] is False
    assert primary_now["TagList"] == [{"Key": "role", "Value": "primary"}]
    assert primary_now["ReadReplicaDBInstanceIdentifiers"] == [replica_id]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in primary_now


def test_replica_log_exports_do_not_leak_into_the_primary(backend: AwsBackend) -> None:
    rds = backend.client("rds")
    primary = _instance(backend)
    replica_id = next(_names)
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier=replica_id, SourceDBInstanceIdentifier=primary["DBInstanceIdentifier"]
    )

    rds.modify_db_instance(
        DBInstanceIdentifier=replica_id,
        CloudwatchLogsExportConfiguration={"EnableLogTypes": ["postgresql"]},
    )
    primary_now = rds.describe_db_instances(DBInstanceIdentifier=primary["DBInstanceIdentifier"])["DBInstances"][0]

    assert primary_now.get("EnabledCloudwatchLogsExports", []) == []


def test_user_parameters_read_back_with_source_user(backend: AwsBackend) -> None:
    rds = backend.client("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName="compat-pg", DBParameterGroupFamily="postgres16", Description="compat"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName="compat-pg",
        Parameters=[
            {"ParameterName": "log_min_duration_statement", "ParameterValue": "500", "ApplyMethod": "immediate"},
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"},
        ],
    )

    everything = rds.describe_db_parameters(DBParameterGroupName="compat-pg")["Parameters"]
    user = rds.describe_db_parameters(DBParameterGroupName="compat-pg", Source="user")["Parameters"]
    system = rds.describe_db_parameters(DBParameterGroupName="compat-pg", Source="system")["Parameters"]

    assert {p["ParameterName"]: p["Source"] for p in everything} == {
        "log_min_duration_statement": "user",
        "rds.force_ssl": "user",
    }
    assert len(user) == 2
    assert system == []


def test_reset_db_parameter_group_removes_the_user_setting(backend: AwsBackend) -> None:
    rds = backend.client("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName="compat-pg-reset", DBParameterGroupFamily="postgres16", Description="compat"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName="compat-pg-reset",
        Parameters=[
            {"ParameterName": "a", "ParameterValue": "1", "ApplyMethod": "immediate"},
            {"ParameterName": "b", "ParameterValue": "2", "ApplyMethod": "immediate"},
        ],
    )

    rds.reset_db_parameter_group(
        DBParameterGroupName="compat-pg-reset", Parameters=[{"ParameterName": "a", "ApplyMethod": "immediate"}]
    )
    after_one = rds.describe_db_parameters(DBParameterGroupName="compat-pg-reset", Source="user")["Parameters"]
    rds.reset_db_parameter_group(DBParameterGroupName="compat-pg-reset", ResetAllParameters=True)
    after_all = rds.describe_db_parameters(DBParameterGroupName="compat-pg-reset")["Parameters"]

    assert [p["ParameterName"] for p in after_one] == ["b"]
    assert after_all == []


def test_performance_insights_read_back_from_create_and_modify(backend: AwsBackend) -> None:
    rds = backend.client("rds")
    created = _instance(backend, EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=31)
    default_retention = _instance(backend, EnablePerformanceInsights=True)
    plain = _instance(backend)

    assert created["PerformanceInsightsEnabled"] is True
    assert created["PerformanceInsightsRetentionPeriod"] == 31
    assert default_retention["PerformanceInsightsRetentionPeriod"] == 7
    assert plain["PerformanceInsightsEnabled"] is False

    rds.modify_db_instance(DBInstanceIdentifier=plain["DBInstanceIdentifier"], EnablePerformanceInsights=True)
    enabled = rds.describe_db_instances(DBInstanceIdentifier=plain["DBInstanceIdentifier"])["DBInstances"][0]
    rds.modify_db_instance(DBInstanceIdentifier=created["DBInstanceIdentifier"], EnablePerformanceInsights=False)
    disabled = rds.describe_db_instances(DBInstanceIdentifier=created["DBInstanceIdentifier"])["DBInstances"][0]

    assert (enabled["PerformanceInsightsEnabled"], enabled["PerformanceInsightsRetentionPeriod"]) == (True, 7)
    assert disabled["PerformanceInsightsEnabled"] is False
    assert "PerformanceInsightsRetentionPeriod" not in disabled
