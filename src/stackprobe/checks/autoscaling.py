"""Application Auto Scaling for ECS services: a scalable target, sane policies, and the alarms that drive them.

A service without autoscaling has a fixed capacity: traffic above it fails, and nothing replaces the
headroom lost when an AZ goes. These checks read the scalable targets, scaling policies and CloudWatch
alarms back from the account. moto stores targets and policies as given and, for ECS target-tracking
policies, creates two placeholder alarms itself (see `autoscaling.alarms`); it scales nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from stackprobe.aws.workloads import Workload
from stackprobe.checks.alarms import alarm_metrics
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.errors import NotApplicable

CPU_METRIC = "ECSServiceAverageCPUUtilization"
MEMORY_METRIC = "ECSServiceAverageMemoryUtilization"
REQUESTS_METRIC = "ALBRequestCountPerTarget"
# A CPU target below 40 % pays for idle tasks; above 80 % leaves no room for the minutes a scale-out takes.
CPU_TARGET_RANGE = (40.0, 80.0)
MEMORY_TARGET_RANGE = (40.0, 90.0)
# Application Auto Scaling's ECS default for both cooldowns when a policy does not set them.
DEFAULT_COOLDOWN = 300
MAX_SCALE_OUT_COOLDOWN = 300
MIN_SCALE_IN_COOLDOWN = 60


def _policy_namespaces(policy: Mapping[str, Any]) -> set[str]:
    config = policy.get("TargetTrackingScalingPolicyConfiguration") or {}
    custom = config.get("CustomizedMetricSpecification") or {}
    namespaces = {str(custom["Namespace"])} if custom.get("Namespace") else set()
    for metric in custom.get("Metrics") or []:
        namespace = ((metric.get("MetricStat") or {}).get("Metric") or {}).get("Namespace")
        if namespace:
            namespaces.add(str(namespace))
    return namespaces


def _predefined(policy: Mapping[str, Any]) -> Mapping[str, Any]:
    config = policy.get("TargetTrackingScalingPolicyConfiguration") or {}
    return config.get("PredefinedMetricSpecification") or {}


@check(
    "autoscaling.scalable-target",
    "Every ECS service has a scalable target with sane bounds",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("ecs", "application-autoscaling"),
    why="Without a scalable target the task count is fixed: load above it fails and nothing adds tasks. In "
    "production a minimum of one task means any task replacement or AZ loss is an outage.",
    fix="Register an aws_appautoscaling_target (ecs:service:DesiredCount) per service, with "
    "min_capacity >= 2 in production, max_capacity > min_capacity, and the service's desired_count within "
    "them (ignore_changes = [desired_count] so applies do not undo scaling).",
    reference="terraform/modules/service (aws_appautoscaling_target)",
    reads=("aws_ecs_service",),
)
def scalable_target(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    targets = ctx.account.autoscaling.scalable_targets()
    stack = ctx.decision
    workloads = ctx.account.ecs.workloads()
    # DAEMON services run one task per instance; they are not scaled by count.
    daemons = [w.label for w in workloads if w.is_daemon]
    if daemons and len(daemons) == len(workloads):
        raise NotApplicable(f"{', '.join(daemons)}: DAEMON services, one task per instance, not scaled by count")
    for workload in workloads:
        if workload.is_daemon:
            continue
        environment = stack.for_resource(workload.service_tags, workload.cluster_tags)
        target = targets.get(workload.resource_id)
        if target is None:
            yield ctx.finding(
                check_,
                False,
                workload.arn,
                f"{workload.resource_id}: no scalable target; desiredCount fixed at {workload.desired_count}",
            )
            continue
        low, high = int(target.get("MinCapacity", 0)), int(target.get("MaxCapacity", 0))
        problems: list[str] = []
        if low > high:
            problems.append(f"MinCapacity {low} > MaxCapacity {high}")
        elif low == high:
            problems.append(f"MinCapacity = MaxCapacity = {low}: the service cannot scale")
        if workload.load_balancers and low < 1:
            problems.append(f"MinCapacity {low}: a load-balanced service can scale to no task at all")
        if environment.production and low < 2:
            problems.append(f"MinCapacity {low} < 2 ({environment.rule}): one task lost is an outage")
        if not low <= workload.desired_count <= high:
            problems.append(f"desiredCount {workload.desired_count} outside [{low}, {high}]")
        evidence = (
            f"{workload.resource_id}: " + "; ".join(problems)
            if problems
            else f"{workload.resource_id}: MinCapacity {low}, MaxCapacity {high}, desiredCount "
            f"{workload.desired_count} ({environment.rule})"
        )
        yield ctx.finding(check_, not problems, workload.arn, evidence, target.get("ScalableTargetARN"))


def tracking_problems(
    workload: Workload, policies: Iterable[Mapping[str, Any]], sqs_step_policies: set[str]
) -> tuple[list[str], list[str]]:
    """(problems, policy descriptions) for one service's scaling policies."""
    problems: list[str] = []
    described: list[str] = []
    has_cpu = has_requests = has_queue = False
    own_groups = {lb["targetGroupArn"].split(":")[-1] for lb in workload.load_balancers}
    for policy in policies:
        name = str(policy.get("PolicyName"))
        if policy.get("PolicyType") == "StepScaling":
            if policy["PolicyARN"] in sqs_step_policies:
                has_queue = True
                described.append(f"{name}: step scaling on an SQS alarm")
            else:
                described.append(f"{name}: step scaling")
            continue
        config = policy.get("TargetTrackingScalingPolicyConfiguration") or {}
        target = float(config.get("TargetValue", 0))
        metric = str(_predefined(policy).get("PredefinedMetricType") or "custom metric")
        out_cd = int(config.get("ScaleOutCooldown", DEFAULT_COOLDOWN))
        in_cd = int(config.get("ScaleInCooldown", DEFAULT_COOLDOWN))
        described.append(f"{name}: {metric} target {target:g}, cooldown out {out_cd} s / in {in_cd} s")
        if metric == CPU_METRIC:
            has_cpu = True
            if not CPU_TARGET_RANGE[0] <= target <= CPU_TARGET_RANGE[1]:
                low, high = CPU_TARGET_RANGE
                problems.append(f"{name}: CPU target {target:g}% outside {low:g}-{high:g}%")
        elif metric == MEMORY_METRIC and not MEMORY_TARGET_RANGE[0] <= target <= MEMORY_TARGET_RANGE[1]:
            problems.append(
                f"{name}: memory target {target:g}% outside {MEMORY_TARGET_RANGE[0]:g}-{MEMORY_TARGET_RANGE[1]:g}%"
            )
        elif metric == REQUESTS_METRIC:
            label = str(_predefined(policy).get("ResourceLabel") or "")
            group = label.split("/targetgroup/", 1)[-1] if "/targetgroup/" in label else ""
            if f"targetgroup/{group}" in own_groups:
                has_requests = True
            else:
                problems.append(f"{name}: ResourceLabel {label or '(none)'} is not this service's target group")
        if "AWS/SQS" in _policy_namespaces(policy):
            has_queue = True
        if out_cd > MAX_SCALE_OUT_COOLDOWN:
            problems.append(f"{name}: ScaleOutCooldown {out_cd} s > {MAX_SCALE_OUT_COOLDOWN} s delays scale-out")
        if in_cd < MIN_SCALE_IN_COOLDOWN:
            # The AWS provider sends 0 for an unset scale_in_cooldown, replacing AWS's own 300 s default.
            unset = " (Terraform sends 0 when scale_in_cooldown is not set)" if in_cd == 0 else ""
            problems.append(f"{name}: ScaleInCooldown {in_cd} s < {MIN_SCALE_IN_COOLDOWN} s lets capacity flap{unset}")
    # The rule is the title's: CPU or requests behind a load balancer, CPU or queue depth otherwise.
    if workload.load_balancers and not (has_cpu or has_requests):
        problems.append(f"no {CPU_METRIC} target tracking and no {REQUESTS_METRIC} on its target group")
    elif not workload.load_balancers and not (has_cpu or has_queue):
        problems.append(f"no {CPU_METRIC} target tracking and no policy on an SQS metric")
    return problems, described


@check(
    "autoscaling.target-tracking",
    "Services scale on CPU, on requests behind an ALB, or on queue depth for workers",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("ecs", "application-autoscaling", "cloudwatch"),
    why="A scalable target without policies never moves, and memory alone rises late and falls slowly. CPU "
    "tracks load for most services; behind an ALB, request count per target reacts sooner for request-bound "
    "APIs; queue workers are best scaled on backlog. Targets outside sane ranges waste money or leave no "
    "headroom, and long scale-out cooldowns stall scaling during a spike.",
    fix="Add target-tracking policies: ECSServiceAverageCPUUtilization (target 40-80 %) and/or, behind an "
    "ALB, ALBRequestCountPerTarget on the service's own target group; for queue workers, backlog per task "
    "(ApproximateNumberOfMessagesVisible / running tasks). Keep scale-out cooldown <= 300 s.",
    reference="terraform/modules/service (aws_appautoscaling_policy)",
    reads=("aws_ecs_service",),
)
def target_tracking(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    targets = ctx.account.autoscaling.scalable_targets()
    policies = ctx.account.autoscaling.scaling_policies()
    alarms = ctx.account.cloudwatch.metric_alarms()
    # Step policies are driven by alarms: one whose alarm reads an SQS metric scales on the queue.
    sqs_step_policies = {
        action
        for alarm in alarms
        if any(metric.namespace == "AWS/SQS" for metric in alarm_metrics(alarm))
        for action in alarm.get("AlarmActions") or []
    }
    for workload in ctx.account.ecs.workloads():
        if workload.is_daemon or workload.resource_id not in targets:
            continue  # no scalable target: reported by autoscaling.scalable-target
        problems, described = tracking_problems(workload, policies.get(workload.resource_id, []), sqs_step_policies)
        detail = "; ".join(problems) if problems else "; ".join(described)
        yield ctx.finding(check_, not problems, workload.arn, f"{workload.resource_id}: {detail}")


@check(
    "autoscaling.alarms",
    "Every scaling policy has the CloudWatch alarms that trigger it",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=("ecs", "application-autoscaling", "cloudwatch"),
    why="A step-scaling policy runs only when an alarm invokes it; without one it is dead configuration. "
    "Target tracking creates and owns its alarms (TargetTracking-*), and deleting them silently stops "
    "scaling.",
    fix="Give each step-scaling policy an aws_cloudwatch_metric_alarm whose alarm_actions include the "
    "policy ARN; never delete or edit the TargetTracking-* alarms.",
    reference="terraform/modules/service (aws_appautoscaling_policy)",
    reads=("aws_appautoscaling_policy",),
)
def scaling_alarms(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    alarms = ctx.account.cloudwatch.metric_alarms()
    names = {str(alarm["AlarmName"]) for alarm in alarms}
    for resource_id, policies in sorted(ctx.account.autoscaling.scaling_policies().items()):
        for policy in policies:
            arn, name = str(policy["PolicyARN"]), str(policy.get("PolicyName"))
            if policy.get("PolicyType") == "TargetTrackingScaling":
                listed = [str(a["AlarmName"]) for a in policy.get("Alarms") or []]
                missing = [alarm for alarm in listed if alarm not in names]
                passed = bool(listed) and not missing
                if not listed:
                    evidence = f"{resource_id} {name}: target tracking lists no alarms"
                elif missing:
                    evidence = f"{resource_id} {name}: alarms of the policy deleted: {', '.join(missing)}"
                else:
                    # moto creates two placeholder alarms (AWS/ECS CPUUtilization, threshold 6) for every ECS
                    # target-tracking policy whatever its metric: their existence is all this shows.
                    evidence = (
                        f"{resource_id} {name}: {len(listed)} alarms created by Application Auto Scaling "
                        "exist (on moto, placeholders: only their presence is evidence)"
                    )
                yield ctx.finding(check_, passed, arn, evidence)
                continue
            triggers = [alarm for alarm in alarms if arn in (alarm.get("AlarmActions") or [])]
            if triggers:
                shown = ", ".join(
                    f"{alarm['AlarmName']} ({'/'.join(f'{m.namespace}:{m.name}' for m in alarm_metrics(alarm))})"
                    for alarm in triggers
                )
                yield ctx.finding(check_, True, arn, f"{resource_id} {name}: invoked by {shown}")
            else:
                yield ctx.finding(
                    check_,
                    False,
                    arn,
                    f"{resource_id} {name}: no CloudWatch alarm invokes this step policy; it never runs",
                )
