"""autoscaling.* against ECS services with and without scalable targets, policies and alarms.

One account holds one service per case (module fixture, checks run once); tests assert per service.
The cluster is tagged Environment=dev, so services are judged as development unless they carry their own
production tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from compute_builders import alb, api_task_definition, app_resources, cluster, network, service, target_group

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.autoscaling import scalable_target, scaling_alarms, target_tracking
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness
CLUSTER = "sp-scale"


@dataclass(frozen=True)
class Results:
    context: CheckContext
    targets: CheckResult
    tracking: CheckResult
    alarms: CheckResult


def _finding(result: CheckResult, service_name: str, policy: str | None = None) -> Finding:
    needle = f"service/{CLUSTER}/{service_name}" + (f" {policy}:" if policy else ":")
    matches = [f for f in result.findings if f.evidence.startswith(needle)]
    assert len(matches) == 1, [f.evidence for f in result.findings]
    return matches[0]


class Account:
    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend
        self.resources = app_resources(backend)
        self.net = network(backend)
        cluster(backend, CLUSTER, tags={"Environment": "dev"})
        self.alb = alb(backend, self.net)
        self.td = api_task_definition(backend, self.resources)
        self.aas = backend.client("application-autoscaling")
        self.cloudwatch = backend.client("cloudwatch")
        self._ports = iter(range(81, 200))

    def deploy(
        self, name: str, *, lb: bool = False, desired: int = 2, tags: dict[str, str] | None = None
    ) -> str | None:
        group = None
        if lb:
            group = target_group(self.backend, self.net, self.alb, name=name, listener_port=next(self._ports))
        service(self.backend, self.net, CLUSTER, name, self.td, target_group=group, desired=desired, tags=tags)
        return group

    def target(self, name: str, low: int, high: int) -> None:
        self.aas.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{CLUSTER}/{name}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=low,
            MaxCapacity=high,
        )

    def policy(self, name: str, policy: str, **config: Any) -> str:
        kind = "StepScaling" if "StepAdjustments" in config else "TargetTrackingScaling"
        key = "StepScalingPolicyConfiguration" if kind == "StepScaling" else "TargetTrackingScalingPolicyConfiguration"
        return str(
            self.aas.put_scaling_policy(
                PolicyName=policy,
                ServiceNamespace="ecs",
                ResourceId=f"service/{CLUSTER}/{name}",
                ScalableDimension="ecs:service:DesiredCount",
                PolicyType=kind,
                **{key: config},
            )["PolicyARN"]
        )

    def cpu(self, name: str, target: float = 60, scale_out_cooldown: int = 60) -> str:
        return self.policy(
            name,
            "cpu",
            TargetValue=target,
            ScaleOutCooldown=scale_out_cooldown,
            ScaleInCooldown=300,
            PredefinedMetricSpecification={"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        )

    def memory(self, name: str, target: float = 75) -> str:
        return self.policy(
            name,
            "memory",
            TargetValue=target,
            PredefinedMetricSpecification={"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"},
        )

    def requests(self, name: str, group: str) -> str:
        label = f"{self.alb.split(':loadbalancer/')[1]}/{group.split(':')[-1]}"
        return self.policy(
            name,
            "requests",
            TargetValue=1000,
            PredefinedMetricSpecification={"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label},
        )

    def step_on_queue(self, name: str, *, alarm: bool) -> str:
        arn = self.policy(
            name,
            "queue-step",
            AdjustmentType="ChangeInCapacity",
            StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        )
        if alarm:
            self.cloudwatch.put_metric_alarm(
                AlarmName=f"{name}-backlog",
                Namespace="AWS/SQS",
                MetricName="ApproximateNumberOfMessagesVisible",
                Dimensions=[{"Name": "QueueName", "Value": "sp-test-jobs"}],
                Statistic="Maximum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=10,
                ComparisonOperator="GreaterThanThreshold",
                AlarmActions=[arn],
            )
        return arn


@pytest.fixture(scope="module")
def results(stacks: Run) -> Results:
    account = Account(stacks.reset_emulator())
    prod = {"Environment": "prod"}
    group = account.deploy("api-good", lb=True, tags=prod)
    assert group is not None
    account.target("api-good", 2, 10)
    account.cpu("api-good")
    account.requests("api-good", group)

    account.deploy("worker-backlog", desired=1)
    account.target("worker-backlog", 1, 5)
    account.policy(
        "worker-backlog",
        "backlog",
        TargetValue=10,
        CustomizedMetricSpecification={
            "Metrics": [
                {
                    "Id": "visible",
                    "ReturnData": False,
                    "MetricStat": {
                        "Stat": "Sum",
                        "Metric": {
                            "Namespace": "AWS/SQS",
                            "MetricName": "ApproximateNumberOfMessagesVisible",
                            "Dimensions": [{"Name": "QueueName", "Value": "sp-test-jobs"}],
                        },
                    },
                },
                {"Id": "backlog", "Expression": "visible / 1", "ReturnData": True},
            ]
        },
    )

    account.deploy("worker-step", desired=1)
    account.target("worker-step", 1, 5)
    account.step_on_queue("worker-step", alarm=True)

    account.deploy("dead-step", desired=1)
    account.target("dead-step", 1, 5)
    account.cpu("dead-step")
    account.step_on_queue("dead-step", alarm=False)

    account.deploy("no-target", desired=1)
    account.deploy("fixed")
    account.target("fixed", 2, 2)
    account.deploy("prod-min-1", desired=1, tags=prod)
    account.target("prod-min-1", 1, 4)
    account.deploy("desired-outside", desired=5)
    account.target("desired-outside", 1, 3)

    account.deploy("cpu-only-api", lb=True)
    account.target("cpu-only-api", 1, 4)
    account.cpu("cpu-only-api")

    # The issue-16 case: CPU at 60% and memory, behind an ALB, no request-count policy.
    account.deploy("cpu-memory-api", lb=True)
    account.target("cpu-memory-api", 2, 6)
    account.cpu("cpu-memory-api")
    account.memory("cpu-memory-api")

    account.deploy("memory-only-api", lb=True)
    account.target("memory-only-api", 2, 6)
    account.memory("memory-only-api")

    group = account.deploy("hot-and-slow", lb=True)
    assert group is not None
    account.target("hot-and-slow", 1, 4)
    account.cpu("hot-and-slow", target=95, scale_out_cooldown=600)
    account.requests("hot-and-slow", group)

    account.deploy("wrong-label", lb=True)
    account.target("wrong-label", 1, 4)
    account.cpu("wrong-label")
    elsewhere = account.deploy("elsewhere", lb=True)
    assert elsewhere is not None
    account.requests("wrong-label", elsewhere)

    account.deploy("tt-alarms-deleted", desired=1)
    account.target("tt-alarms-deleted", 1, 4)
    account.cpu("tt-alarms-deleted")
    policy = account.aas.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=f"service/{CLUSTER}/tt-alarms-deleted"
    )["ScalingPolicies"][0]
    account.cloudwatch.delete_alarms(AlarmNames=[a["AlarmName"] for a in policy["Alarms"]])

    context = CheckContext(backend=account.backend)
    return Results(
        context,
        run_check(scalable_target, context),
        run_check(target_tracking, context),
        run_check(scaling_alarms, context),
    )


# -- autoscaling.scalable-target ---------------------------------------------------------------------------


def test_scalable_target_passes_with_sane_bounds(results: Results) -> None:
    finding = _finding(results.targets, "api-good")
    assert finding.passed, finding.evidence
    assert finding.evidence == (
        "service/sp-scale/api-good: MinCapacity 2, MaxCapacity 10, desiredCount 2 (production: tag Environment=prod)"
    )
    worker = _finding(results.targets, "worker-backlog")
    assert worker.passed, worker.evidence
    assert worker.evidence.endswith(
        "MinCapacity 1, MaxCapacity 5, desiredCount 1 (not production: tag Environment=dev)"
    )


@pytest.mark.parametrize(
    ("service_name", "expected"),
    [
        ("no-target", "service/sp-scale/no-target: no scalable target; desiredCount fixed at 1"),
        ("fixed", "MinCapacity = MaxCapacity = 2: the service cannot scale"),
        ("prod-min-1", "MinCapacity 1 < 2 (production: tag Environment=prod): one task lost is an outage"),
        ("desired-outside", "desiredCount 5 outside [1, 3]"),
    ],
)
def test_scalable_target_fails_with_evidence(results: Results, service_name: str, expected: str) -> None:
    finding = _finding(results.targets, service_name)
    assert not finding.passed
    assert expected in finding.evidence


# -- autoscaling.target-tracking ---------------------------------------------------------------------------


def test_target_tracking_passes_for_api_and_queue_workers(results: Results) -> None:
    api = _finding(results.tracking, "api-good")
    assert api.passed, api.evidence
    assert "cpu: ECSServiceAverageCPUUtilization target 60, cooldown out 60 s / in 300 s" in api.evidence
    assert "requests: ALBRequestCountPerTarget target 1000" in api.evidence
    backlog = _finding(results.tracking, "worker-backlog")
    assert backlog.passed, backlog.evidence
    step = _finding(results.tracking, "worker-step")
    assert step.passed, step.evidence
    assert "queue-step: step scaling on an SQS alarm" in step.evidence


@pytest.mark.parametrize("service_name", ["cpu-only-api", "cpu-memory-api"])
def test_target_tracking_passes_an_api_that_tracks_cpu_without_requests(results: Results, service_name: str) -> None:
    """The title says CPU, requests or queue depth: CPU alone behind an ALB meets it (issue 16's false alarm:
    a service tracking CPU at 60% and memory failed with "no ALBRequestCountPerTarget")."""
    finding = _finding(results.tracking, service_name)
    assert finding.passed, finding.evidence
    assert "cpu: ECSServiceAverageCPUUtilization target 60" in finding.evidence
    assert "ALBRequestCountPerTarget" not in finding.evidence


@pytest.mark.parametrize(
    ("service_name", "expected"),
    [
        (
            "memory-only-api",
            "no ECSServiceAverageCPUUtilization target tracking and no ALBRequestCountPerTarget on its target group",
        ),
        ("hot-and-slow", "cpu: CPU target 95% outside 40-80%"),
        ("hot-and-slow", "cpu: ScaleOutCooldown 600 s > 300 s delays scale-out"),
        ("wrong-label", "requests: ResourceLabel app/sp-test-alb/"),
        ("fixed", "no ECSServiceAverageCPUUtilization target tracking and no policy on an SQS metric"),
    ],
)
def test_target_tracking_fails_with_evidence(results: Results, service_name: str, expected: str) -> None:
    finding = _finding(results.tracking, service_name)
    assert not finding.passed
    assert expected in finding.evidence


def test_production_rules_without_an_environment_and_a_declared_environment_wins(clean_backend: AwsBackend) -> None:
    """Untagged, and nothing else names an environment: production rules apply and the evidence says why.
    Declared with --environment, the declaration wins over every tag."""
    account = Account(clean_backend)
    cluster(clean_backend, "sp-untagged")
    service(clean_backend, account.net, "sp-untagged", "lone", account.td, desired=1)
    account.aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/sp-untagged/lone",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    account.deploy("prod-tagged-min-1", desired=1, tags={"Environment": "prod"})
    account.target("prod-tagged-min-1", 1, 4)
    untagged = next(
        f for f in run_check(scalable_target, CheckContext(backend=clean_backend)).findings if "/lone:" in f.evidence
    )
    assert not untagged.passed
    assert "MinCapacity 1 < 2 (production rules: environment unknown, set --environment to change)" in (
        untagged.evidence
    )
    declared = run_check(scalable_target, CheckContext(backend=clean_backend, environment="development"))
    assert declared.status is Status.PASS, [f.evidence for f in declared.findings]
    assert all("(not production: declared with --environment development)" in f.evidence for f in declared.findings)


def test_target_tracking_leaves_services_without_target_to_the_other_check(results: Results) -> None:
    assert not [f for f in results.tracking.findings if "/no-target:" in f.evidence]


# -- autoscaling.alarms --------------------------------------------------------------------------------------


def test_alarms_pass_for_target_tracking_and_invoked_step_policies(results: Results) -> None:
    tracking = _finding(results.alarms, "api-good", "cpu")
    assert tracking.passed, tracking.evidence
    assert "2 alarms created by Application Auto Scaling exist (on moto, placeholders" in tracking.evidence
    step = _finding(results.alarms, "worker-step", "queue-step")
    assert step.passed
    assert "invoked by worker-step-backlog (AWS/SQS:ApproximateNumberOfMessagesVisible)" in step.evidence


def test_alarms_fail_for_dead_step_policies_and_deleted_tracking_alarms(results: Results) -> None:
    alarms = assert_check(results.context, scaling_alarms, Status.FAIL)
    dead = _finding(alarms, "dead-step", "queue-step")
    assert not dead.passed
    assert "no CloudWatch alarm invokes this step policy; it never runs" in dead.evidence
    deleted = _finding(alarms, "tt-alarms-deleted", "cpu")
    assert not deleted.passed
    assert "alarms of the policy deleted: TargetTracking-service/sp-scale/tt-alarms-deleted-AlarmHigh-" in (
        deleted.evidence
    )


def test_not_applicable_without_services(clean_backend: AwsBackend) -> None:
    context = CheckContext(backend=clean_backend)
    for which in (scalable_target, target_tracking, scaling_alarms):
        assert run_check(which, context).status is Status.NOT_APPLICABLE
