"""ECS clusters and what their services run: observable production clusters, pinned production images from a
private registry, and a container health check on every container a load balancer sends traffic to.

Read from the account (DescribeClusters with settings and tags, every service and its task definition).
Task-definition findings name the task definition, where the fix goes; their evidence names the services
that run it. Production-only rules follow `stackprobe.aws.environment`: a service's or cluster's own
environment tag, else the stack's decision, and the evidence says which.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackprobe.aws.environment import EnvironmentDecision, relaxed_reason
from stackprobe.aws.workloads import Workload
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.errors import NotApplicable

REFERENCE = "terraform/modules/service"
INSIGHTS_ON = ("enabled", "enhanced")
DOCKER_HUB = "docker.io"
# Registries anyone can pull from without credentials: an image there is someone else's build, pulled
# from a service outside the account (rate limits, outages, a re-pushed tag).
PUBLIC_REGISTRIES = frozenset(
    {
        DOCKER_HUB,
        "registry-1.docker.io",
        "index.docker.io",
        "public.ecr.aws",
        "ghcr.io",
        "quay.io",
        "gcr.io",
        "mcr.microsoft.com",
        "registry.k8s.io",
        "registry.gitlab.com",
    }
)


@check(
    "ecs.container-insights-prod",
    "Production ECS clusters have Container Insights on",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=("ecs",),
    why="Without Container Insights a production cluster publishes no per-task or per-service CPU, memory, "
    "network or restart metrics: a memory leak, a crash loop or a noisy task is invisible until users see "
    "it, and there is nothing to alarm on.",
    fix='Add setting { name = "containerInsights", value = "enabled" } (or "enhanced") to the aws_ecs_cluster.',
    reference=REFERENCE,
    reads=("aws_ecs_cluster",),
)
def container_insights(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    relaxed = [d for c in ctx.account.ecs.clusters() if not (d := ctx.decision.for_resource(c.get("tags"))).production]
    if relaxed and len(relaxed) == len(ctx.account.ecs.clusters()):
        raise NotApplicable(relaxed_reason(relaxed))
    for cluster in ctx.account.ecs.clusters():
        environment = ctx.decision.for_resource(cluster.get("tags"))
        if not environment.production:
            continue
        settings = {str(s.get("name")): str(s.get("value")) for s in cluster.get("settings") or []}
        value = settings.get("containerInsights")
        where = "containerInsights"
        if value is None:
            # The account's effective default for new clusters (AWS's own default is disabled).
            account_default = ctx.account.ecs.account_setting("containerInsights")
            value, where = account_default or "disabled", "no containerInsights setting; the account default is"
        evidence = f"{cluster['clusterName']}: {where}={value} ({environment.rule})"
        arn, name = str(cluster["clusterArn"]), cluster.get("clusterName")
        yield ctx.finding(check_, value in INSIGHTS_ON, arn, evidence, name)


@dataclass(frozen=True)
class ImageReference:
    """A container image reference, split as Docker does: registry host, repository, tag, digest."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def pinned(self) -> bool:
        """Names one image: a digest, or a tag other than `latest`."""
        return bool(self.digest) or (self.tag is not None and self.tag != "latest")


def parse_image(image: str) -> ImageReference:
    """`nginx` -> docker.io/nginx (no tag); `public.ecr.aws/x/y:1.2@sha256:..` -> registry public.ecr.aws."""
    name, _, digest = image.strip().partition("@")
    first, slash, rest = name.partition("/")
    # The first component is a registry host when it looks like one (a dot, a port, or localhost).
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first.lower(), rest
    else:
        registry, path = DOCKER_HUB, name
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
    return ImageReference(registry, path, tag, digest or None)


def image_problems(container: Mapping[str, Any]) -> list[tuple[Severity, str]]:
    """What is wrong with where a production container's image comes from, most severe first."""
    image = str(container.get("image") or "")
    if not image:
        return [(Severity.HIGH, "no image")]
    reference = parse_image(image)
    problems: list[tuple[Severity, str]] = []
    if reference.tag is None and reference.digest is None:
        problems.append((Severity.HIGH, "untagged, so it pulls :latest"))
    elif not reference.pinned:
        problems.append((Severity.HIGH, "tag latest"))
    # With repositoryCredentials it is a private repository on that registry.
    if reference.registry in PUBLIC_REGISTRIES and not container.get("repositoryCredentials"):
        where = "Docker Hub" if reference.registry.endswith("docker.io") else reference.registry
        problems.append((Severity.MEDIUM, f"from {where}, a public registry"))
    return problems


def _by_task_definition(workloads: Sequence[Workload]) -> dict[str, list[Workload]]:
    grouped: dict[str, list[Workload]] = {}
    for workload in workloads:
        grouped.setdefault(workload.task_definition_arn, []).append(workload)
    return grouped


def _production(stack: EnvironmentDecision, workloads: list[Workload]) -> EnvironmentDecision | None:
    """The first production decision among the services that run one task definition, or None."""
    decisions = [stack.for_resource(w.service_tags, w.cluster_tags) for w in workloads]
    return next((d for d in decisions if d.production), None)


@check(
    "ecs.image-provenance-prod",
    "Production services run a pinned image from a private registry",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("ecs",),
    why="`latest` (or no tag) means every task start may pull a different image: a deploy cannot be "
    "reproduced or rolled back, and whatever was pushed last runs in production. An image from a public "
    "registry is someone else's build, pulled from outside the account at every start: rate limits or an "
    "outage there stop scaling and recovery, and a compromised upstream tag runs in production.",
    fix="Build the image in CI, push it to the account's ECR repository (immutable tags, scan on push) and "
    "deploy it by a unique tag (the git SHA) or digest; mirror third-party base images into ECR (pull-through "
    "cache) instead of pulling them at run time.",
    reference=REFERENCE,
    reads=("aws_ecs_service",),
)
def image_provenance(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    grouped = _by_task_definition(ctx.account.ecs.workloads())
    if grouped and all(_production(ctx.decision, workloads) is None for workloads in grouped.values()):
        relaxed = [ctx.decision.for_resource(w.service_tags, w.cluster_tags) for ws in grouped.values() for w in ws]
        raise NotApplicable(relaxed_reason(relaxed))
    for arn, workloads in grouped.items():
        environment = _production(ctx.decision, workloads)
        if environment is None:
            continue
        services = ", ".join(w.label for w in workloads)
        found: list[tuple[Severity, str]] = []
        seen: list[str] = []
        for container in workloads[0].containers:
            problems = image_problems(container)
            name, image = container.get("name"), container.get("image")
            seen.append(f"container {name} runs {image}")
            if problems:
                worst = max(severity for severity, _ in problems)
                found.append((worst, f"container {name} runs {image}: " + ", ".join(text for _, text in problems)))
        context = f"run by {services} ({environment.rule})"
        if found:
            severity = max(s for s, _ in found)
            evidence = "; ".join(text for _, text in sorted(found, key=lambda p: -p[0])) + f"; {context}"
            yield ctx.finding(check_, False, arn, evidence, severity=severity)
        else:
            yield ctx.finding(check_, True, arn, "; ".join(seen) + f" (pinned, private registry); {context}")


@check(
    "ecs.container-health-check",
    "Containers that receive load-balancer traffic have a container health check",
    severity=Severity.LOW,
    category=Category.RELIABILITY,
    services=("ecs",),
    why="The target group's health check only sees what answers on the port. A container health check "
    "runs inside the task: ECS marks the task unhealthy and replaces it when the process hangs behind a "
    "still-open port, a deployment waits for new tasks to report HEALTHY before draining old ones, and "
    "startPeriod gives a slow start time before failures count.",
    fix='Add healthCheck { command = ["CMD-SHELL", "curl -fsS http://localhost:PORT/health || exit 1"], '
    "interval, timeout, retries, startPeriod } to the container definition (with a binary that exists in "
    "the image).",
    reference=REFERENCE,
    reads=("aws_ecs_service",),
)
def container_health_check(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for arn, workloads in _by_task_definition(ctx.account.ecs.workloads()).items():
        served: dict[str, list[str]] = {}
        for workload in workloads:
            for registration in workload.load_balancers:
                group = str(registration["targetGroupArn"]).rsplit(":", 1)[-1].removeprefix("targetgroup/")
                where = f"port {registration.get('containerPort')} of {workload.label}, {group.split('/')[0]}"
                served.setdefault(str(registration.get("containerName")), []).append(where)
        if not served:
            continue  # behind no target group: ECS judges the task by its process alone
        problems, checked = [], []
        for name, places in sorted(served.items()):
            container = workloads[0].container(name)
            command = [str(part) for part in ((container or {}).get("healthCheck") or {}).get("command") or []]
            if command:
                checked.append(f"container {name} ({'; '.join(places)}) runs healthCheck {' '.join(command)[:80]}")
            else:
                problems.append(f"container {name} ({'; '.join(places)}) has no healthCheck")
        yield ctx.finding(check_, not problems, arn, "; ".join(problems or checked))
