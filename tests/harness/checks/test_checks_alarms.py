"""alarms.coverage and alarms.topic-encrypted over an ALB, an ECS service, an RDS instance and queues.

One account, alarms present for some signals and missing or silent for others; both checks run once
(module fixture) and each test asserts the finding of one (resource, signal).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from compute_builders import api_task_definition, app_resources, cluster, load_balancer, network, service

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.alarms import coverage, topic_encrypted
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness


@dataclass(frozen=True)
class Results:
    context: CheckContext
    coverage: CheckResult
    encrypted_topic: str
    plain_topic: str

    def signal(self, label: str) -> Finding:
        matches = [f for f in self.coverage.findings if f.evidence.startswith(f"{label}: ")]
        assert len(matches) == 1, [f.evidence for f in self.coverage.findings]
        return matches[0]


@pytest.fixture(scope="module")
def results(stacks: Run) -> Results:
    backend = stacks.reset_emulator()
    cw, sns = backend.client("cloudwatch"), backend.client("sns")
    key = backend.client("kms").create_key(Description="sns")["KeyMetadata"]["Arn"]
    encrypted = sns.create_topic(Name="sp-alarms", Attributes={"KmsMasterKeyId": key})["TopicArn"]
    plain = sns.create_topic(Name="sp-alarms-plain")["TopicArn"]

    resources = app_resources(backend)  # sp-test-jobs and its DLQ sp-test-jobs-dlq
    net = network(backend)
    alb, tg = load_balancer(backend, net, name="sp-obs")
    alb_dim = alb.split(":loadbalancer/")[1]
    tg_dim = tg.split(":", 5)[-1]
    service(backend, net, cluster(backend, "sp-obs"), "api", api_task_definition(backend, resources), target_group=tg)
    backend.client("rds").create_db_instance(
        DBInstanceIdentifier="obs-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
    )
    # Target tracking on memory: Application Auto Scaling's own alarms notify no one.
    aas = backend.client("application-autoscaling")
    aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/sp-obs/api",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=3,
    )
    aas.put_scaling_policy(
        PolicyName="memory",
        ServiceNamespace="ecs",
        ResourceId="service/sp-obs/api",
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"},
        },
    )

    def alarm(name: str, namespace: str, metric: str, dims: dict[str, str], actions: list[str], **extra: Any) -> None:
        settings: dict[str, Any] = {"Statistic": "Maximum"}
        settings.update(extra)
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace=namespace,
            MetricName=metric,
            Period=60,
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=actions,
            **settings,
        )

    cw.put_metric_alarm(
        AlarmName="alb-5xx-rate",
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[encrypted],
        Metrics=[
            {
                "Id": "errors",
                "ReturnData": False,
                "MetricStat": {
                    "Stat": "Sum",
                    "Period": 60,
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": "HTTPCode_Target_5XX_Count",
                        "Dimensions": [{"Name": "LoadBalancer", "Value": alb_dim}],
                    },
                },
            },
            {
                "Id": "requests",
                "ReturnData": False,
                "MetricStat": {
                    "Stat": "Sum",
                    "Period": 60,
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": "RequestCount",
                        "Dimensions": [{"Name": "LoadBalancer", "Value": alb_dim}],
                    },
                },
            },
            {"Id": "rate", "Expression": "100 * errors / requests", "ReturnData": True},
        ],
    )
    alarm(
        "alb-latency-average",
        "AWS/ApplicationELB",
        "TargetResponseTime",
        {"LoadBalancer": alb_dim},
        [encrypted],
        Statistic="Average",
    )
    alarm(
        "tg-unhealthy",
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
        {"LoadBalancer": alb_dim, "TargetGroup": tg_dim},
        [plain],
    )
    alarm(
        "api-cpu",
        "AWS/ECS",
        "CPUUtilization",
        {"ClusterName": "sp-obs", "ServiceName": "api"},
        [encrypted],
        Statistic="Average",
    )
    alarm("db-cpu", "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "obs-db"}, [])
    alarm(
        "db-storage",
        "AWS/RDS",
        "FreeStorageSpace",
        {"DBInstanceIdentifier": "obs-db"},
        [encrypted],
        Statistic="Minimum",
    )
    alarm("jobs-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": "sp-test-jobs"}, [encrypted])
    assert json.loads(
        backend.client("sqs").get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )

    context = CheckContext(backend=backend)
    # Run here too, so the context reads the account while it is this module's (a later test empties the
    # emulator): test_topic_encryption runs the check again, on that snapshot, and asserts its verdict.
    run_check(topic_encrypted, context)
    return Results(context, run_check(coverage, context), encrypted, plain)


def test_coverage_passes_for_watched_signals(results: Results) -> None:
    five_xx = results.signal("sp-obs-alb 5xx")
    assert five_xx.passed and five_xx.evidence == "sp-obs-alb 5xx: alb-5xx-rate → sp-alarms"
    assert results.signal("sp-obs-tg unhealthy hosts").evidence == (
        "sp-obs-tg unhealthy hosts: tg-unhealthy → sp-alarms-plain"
    )
    assert results.signal("sp-obs/api CPU").passed
    assert results.signal("obs-db free storage").passed
    assert results.signal("sp-test-jobs age of oldest message").passed


def test_coverage_fails_for_missing_silent_or_average_only_alarms(results: Results) -> None:
    latency = results.signal("sp-obs-alb tail latency")
    assert not latency.passed
    assert latency.evidence == (
        "sp-obs-alb tail latency: no alarm on AWS/ApplicationELB TargetResponseTime "
        "(only alarms on a non-percentile statistic, which hides the tail)"
    )
    silent = results.signal("obs-db CPU")
    assert not silent.passed and silent.evidence == "obs-db CPU: db-cpu → no notifying action"
    dlq = results.signal("sp-test-jobs-dlq dead-letter depth")
    assert not dlq.passed
    assert dlq.evidence.endswith("no alarm on AWS/SQS ApproximateNumberOfMessagesVisible/ApproximateNumberOfMessages")


def test_target_tracking_alarms_do_not_count_as_coverage(results: Results) -> None:
    memory = results.signal("sp-obs/api memory")
    assert not memory.passed
    assert "TargetTracking-service/sp-obs/api-AlarmHigh-" in memory.evidence
    assert "→ no notifying action" in memory.evidence


def test_every_signal_gets_one_finding(results: Results) -> None:
    labels = sorted(f.evidence.split(":", 1)[0] for f in results.coverage.findings)
    assert labels == sorted(
        [
            "sp-obs-alb 5xx",
            "sp-obs-alb tail latency",
            "sp-obs-tg unhealthy hosts",
            "sp-obs/api CPU",
            "sp-obs/api memory",
            "obs-db CPU",
            "obs-db free storage",
            "sp-test-jobs age of oldest message",
            "sp-test-jobs-dlq dead-letter depth",
        ]
    )


def test_topic_encryption(results: Results) -> None:
    by_topic = {f.resource: f for f in assert_check(results.context, topic_encrypted, Status.FAIL).findings}
    assert set(by_topic) == {results.encrypted_topic, results.plain_topic}
    assert by_topic[results.encrypted_topic].passed
    assert by_topic[results.encrypted_topic].evidence.startswith("KmsMasterKeyId=arn:aws:kms:")
    assert not by_topic[results.plain_topic].passed
    assert by_topic[results.plain_topic].evidence == "no KmsMasterKeyId: notifications stored unencrypted"


def test_not_applicable_in_an_empty_account(clean_backend: AwsBackend) -> None:
    context = CheckContext(backend=clean_backend)
    assert run_check(coverage, context).status is Status.NOT_APPLICABLE
    assert run_check(topic_encrypted, context).status is Status.NOT_APPLICABLE
