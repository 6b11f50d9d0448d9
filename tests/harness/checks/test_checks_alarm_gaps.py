"""alarms.stateful-components and alarms.error-rate-below-slo.

One account: an RDS Proxy, a Redis replication group of two nodes, a primary with a read replica; alarms on
some of them (one without an action), and two 5xx-rate alarms, one below the stated objective and one at it.
Each check runs once (module fixture); each test asserts one component's or one alarm's finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.alarm_gaps import error_rate_below_slo, stateful_components
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.lifecycle.run import Run

pytestmark = pytest.mark.harness

SLO = {"error_rate_slo_percent": 5}


@dataclass(frozen=True)
class Results:
    components: CheckResult
    rates: CheckResult
    without_slo: CheckResult

    def component(self, label: str) -> Finding:
        matches = [f for f in self.components.findings if f.evidence.startswith(f"{label}: ")]
        assert len(matches) == 1, [f.evidence for f in self.components.findings]
        return matches[0]

    def alarm(self, name: str) -> Finding:
        matches = [f for f in self.rates.findings if f.evidence.startswith(f"{name} ")]
        assert len(matches) == 1, [f.evidence for f in self.rates.findings]
        return matches[0]


def _alarm(backend: AwsBackend, name: str, namespace: str, metric: str, actions: list[str], **dims: str) -> None:
    backend.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=3,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=actions,
    )


def _rate_alarm(backend: AwsBackend, name: str, threshold: float, expression: str, actions: list[str]) -> None:
    def metric(query_id: str, metric_name: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": metric_name,
                    "Dimensions": [{"Name": "LoadBalancer", "Value": "app/sp/123"}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }

    backend.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        EvaluationPeriods=5,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=actions,
        Metrics=[
            {"Id": "rate", "Expression": expression, "ReturnData": True},
            metric("errors", "HTTPCode_Target_5XX_Count"),
            metric("requests", "RequestCount"),
        ],
    )


@pytest.fixture(scope="module")
def results(stacks: Run) -> Results:
    backend = stacks.reset_emulator()
    topic = backend.client("sns").create_topic(Name="sp-alarms")["TopicArn"]
    rds = backend.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="sp-db",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="stack-managed-password",
    )
    rds.create_db_instance_read_replica(DBInstanceIdentifier="sp-db-replica-1", SourceDBInstanceIdentifier="sp-db")
    secret = backend.client("secretsmanager").create_secret(Name="sp-app", SecretString='{"username": "a"}')["ARN"]
    role = backend.client("iam").create_role(RoleName="sp-proxy", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    subnets = [
        backend.client("ec2").create_subnet(
            VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{backend.region}{z}"
        )["Subnet"]["SubnetId"]
        for vpc in [backend.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]]
        for i, z in ((1, "a"), (2, "b"))
    ]
    rds.create_db_proxy(
        DBProxyName="sp-proxy",
        EngineFamily="MYSQL",
        Auth=[{"AuthScheme": "SECRETS", "SecretArn": secret, "IAMAuth": "REQUIRED"}],
        RoleArn=role,
        VpcSubnetIds=subnets,
    )
    backend.client("elasticache").create_replication_group(
        ReplicationGroupId="sp-cache",
        ReplicationGroupDescription="live state",
        Engine="redis",
        CacheNodeType="cache.t4g.small",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
    )
    _alarm(backend, "proxy-borrow", "AWS/RDS", "DatabaseConnectionsBorrowLatency", [topic], ProxyName="sp-proxy")
    _alarm(backend, "cache-1-cpu", "AWS/ElastiCache", "EngineCPUUtilization", [topic], CacheClusterId="sp-cache-001")
    _alarm(backend, "cache-2-cpu", "AWS/ElastiCache", "EngineCPUUtilization", [], CacheClusterId="sp-cache-002")
    _rate_alarm(backend, "5xx-below", 2, "100 * errors / requests", [topic])
    _rate_alarm(backend, "5xx-at-slo", 5, "100 * errors / requests", [topic])
    _rate_alarm(backend, "5xx-fraction", 0.05, "errors / requests", [topic])
    return Results(
        run_check(stateful_components, CheckContext(backend=backend)),
        run_check(error_rate_below_slo, CheckContext(backend=backend, requirements=SLO)),
        run_check(error_rate_below_slo, CheckContext(backend=backend)),
    )


def test_a_component_with_a_notifying_alarm_passes(results: Results) -> None:
    proxy = results.component("RDS Proxy sp-proxy")
    assert proxy.passed and proxy.evidence.endswith("proxy-borrow → sp-alarms")
    assert results.component("cache sp-cache node sp-cache-001").passed


def test_a_node_whose_alarm_tells_no_one_fails(results: Results) -> None:
    node = results.component("cache sp-cache node sp-cache-002")
    assert node.passed is False
    assert node.evidence.endswith("alarm cache-2-cpu notifies no one")


def test_a_read_replica_without_an_alarm_fails(results: Results) -> None:
    replica = results.component("read replica sp-db-replica-1")
    assert replica.passed is False
    assert replica.evidence == "read replica sp-db-replica-1: no alarm on any AWS/RDS metric of it"
    assert results.components.status == Status.FAIL


def test_an_error_rate_alarm_below_the_objective_passes(results: Results) -> None:
    finding = results.alarm("5xx-below")
    assert finding.passed
    assert finding.evidence == "5xx-below fires at a 5xx rate > 2%, below the objective of 5%"


@pytest.mark.parametrize("name", ["5xx-at-slo", "5xx-fraction"])
def test_an_error_rate_alarm_at_the_objective_fails(results: Results, name: str) -> None:
    """Whether the expression yields a percentage (100 * ...) or a fraction (0.05), 5% is the objective itself."""
    finding = results.alarm(name)
    assert finding.passed is False
    assert finding.evidence.endswith("not below the objective of 5%: it fires only once the objective is missed")


def test_without_a_stated_objective_the_rate_is_not_judged(results: Results) -> None:
    assert results.without_slo.status == Status.NOT_APPLICABLE
    assert "error_rate_slo_percent in stackprobe-requirements.yaml" in results.without_slo.not_applicable_reason
