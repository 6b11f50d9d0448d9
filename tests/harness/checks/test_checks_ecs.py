"""ecs.*: Container Insights, image provenance and container health checks on crafted clusters and services.

One account holds a production cluster (tagged), a development one, and services whose task definitions
each carry one defect (module fixture, checks run once); tests assert per cluster or task definition.
The image parser is tested without the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from compute_builders import IMAGE, AppResources, api_task_definition, app_resources, cluster, network, service
from compute_builders import target_group as build_target_group

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Severity, Status
from stackprobe.checks.ecs import container_health_check, container_insights, image_provenance, parse_image
from stackprobe.lifecycle.run import Run

pytestmark = pytest.mark.harness
PROD = {"Environment": "production"}
DEV = {"Environment": "dev"}


@dataclass(frozen=True)
class Results:
    insights: CheckResult
    provenance: CheckResult
    health: CheckResult
    families: dict[str, str]  # task definition family -> ARN
    clusters: dict[str, str]  # cluster name -> ARN

    def of(self, result: CheckResult, resource: str) -> Finding:
        assert not result.error, result.error
        [found] = [f for f in result.findings if f.resource == resource]
        return found


class Account:
    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend
        self.resources: AppResources = app_resources(backend)
        self.net = network(backend)
        self.families: dict[str, str] = {}

    def task(self, family: str, image: str = IMAGE, **options: Any) -> str:
        arn = api_task_definition(self.backend, self.resources, family=family, image=image, **options)
        self.families[family] = arn
        return arn

    def serve(self, cluster_name: str, family: str, *, behind_lb: bool = False) -> None:
        group = build_target_group(self.backend, self.net, None, name=family) if behind_lb else None
        service(self.backend, self.net, cluster_name, family, self.families[family], target_group=group)


@pytest.fixture(scope="module")
def results(stacks: Run) -> Results:
    backend = stacks.reset_emulator()
    ecs = backend.client("ecs")
    ecs.create_cluster(
        clusterName="sp-prod",
        settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=[{"key": "Environment", "value": "production"}],
    )
    ecs.create_cluster(
        clusterName="sp-prod-dark",
        settings=[{"name": "containerInsights", "value": "disabled"}],
        tags=[{"key": "Environment", "value": "prod"}],
    )
    cluster(backend, "sp-dev", tags=DEV)
    account = Account(backend)

    account.task("pinned")
    account.serve("sp-prod", "pinned", behind_lb=True)
    account.task("latest", image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/sp-test/modelserve:latest")
    account.serve("sp-prod", "latest")
    account.task("untagged-hub", image="nginx")
    account.serve("sp-prod", "untagged-hub")
    account.task("public-pinned", image="public.ecr.aws/docker/library/python:3.12-slim")
    account.serve("sp-prod", "public-pinned")
    account.task("digest", image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "a" * 64)
    account.serve("sp-prod", "digest")
    account.task(
        "private-hub",
        image="acme/private-api:2.4.1",
        container_extra={"repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:x"}},
    )
    account.serve("sp-prod", "private-hub")
    # A development service tagged as such runs :latest from Docker Hub: production rules do not apply.
    account.task("dev-latest", image="nginx:latest")
    account.serve("sp-dev", "dev-latest")
    # Behind a target group without a container health check; and a worker (no target group) without one.
    account.task("no-health", health_check=None)
    account.serve("sp-prod", "no-health", behind_lb=True)
    account.task("worker", health_check=None)
    account.serve("sp-prod", "worker")

    context = CheckContext(backend=backend)
    clusters = {
        c["clusterName"]: c["clusterArn"]
        for c in ecs.describe_clusters(clusters=["sp-prod", "sp-prod-dark", "sp-dev"])["clusters"]
    }
    return Results(
        run_check(container_insights, context),
        run_check(image_provenance, context),
        run_check(container_health_check, context),
        account.families,
        clusters,
    )


# -- ecs.container-insights-prod ------------------------------------------------------------------------------


def test_container_insights_on_a_production_cluster_passes(results: Results) -> None:
    finding = results.of(results.insights, results.clusters["sp-prod"])
    assert finding.passed
    assert finding.evidence == "sp-prod: containerInsights=enabled (production: tag Environment=production)"


def test_container_insights_off_in_production_fails(results: Results) -> None:
    finding = results.of(results.insights, results.clusters["sp-prod-dark"])
    assert not finding.passed
    assert finding.evidence == "sp-prod-dark: containerInsights=disabled (production: tag Environment=prod)"


def test_container_insights_is_not_judged_on_a_development_cluster(results: Results) -> None:
    assert results.clusters["sp-dev"] not in {f.resource for f in results.insights.findings}


# -- ecs.image-provenance-prod --------------------------------------------------------------------------------


def test_a_pinned_private_image_passes(results: Results) -> None:
    for family in ("pinned", "digest", "private-hub"):
        finding = results.of(results.provenance, results.families[family])
        assert finding.passed, finding.evidence
    assert results.of(results.provenance, results.families["pinned"]).evidence == (
        f"container api runs {IMAGE} (pinned, private registry); run by sp-prod/pinned "
        "(production: tag Environment=production)"
    )


@pytest.mark.parametrize(
    ("family", "severity", "expected"),
    [
        (
            "latest",
            Severity.HIGH,
            "container api runs 123456789012.dkr.ecr.eu-west-1.amazonaws.com/sp-test/modelserve:latest: tag latest",
        ),
        (
            "untagged-hub",
            Severity.HIGH,
            "container api runs nginx: untagged, so it pulls :latest, from Docker Hub, a public registry",
        ),
        (
            "public-pinned",
            Severity.MEDIUM,
            "container api runs public.ecr.aws/docker/library/python:3.12-slim: from public.ecr.aws, a public registry",
        ),
    ],
)
def test_unpinned_or_public_images_in_production_fail(
    results: Results, family: str, severity: Severity, expected: str
) -> None:
    finding = results.of(results.provenance, results.families[family])
    assert not finding.passed
    assert finding.severity is severity
    assert finding.evidence == f"{expected}; run by sp-prod/{family} (production: tag Environment=production)"


def test_image_provenance_is_not_judged_in_development(results: Results) -> None:
    assert results.families["dev-latest"] not in {f.resource for f in results.provenance.findings}


@pytest.mark.parametrize(
    ("image", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "nginx", None, None),
        ("nginx:1.27", "docker.io", "nginx", "1.27", None),
        ("acme/api:latest", "docker.io", "acme/api", "latest", None),
        ("localhost:5000/api:1", "localhost:5000", "api", "1", None),
        ("ghcr.io/acme/api:v2", "ghcr.io", "acme/api", "v2", None),
        ("public.ecr.aws/x/y@sha256:abc", "public.ecr.aws", "x/y", None, "sha256:abc"),
        (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0.0",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "app",
            "1.0.0",
            None,
        ),
    ],
)
def test_parse_image(image: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    reference = parse_image(image)
    assert (reference.registry, reference.repository, reference.tag, reference.digest) == (
        registry,
        repository,
        tag,
        digest,
    )


# -- ecs.container-health-check ---------------------------------------------------------------------------------


def test_a_container_behind_a_target_group_with_a_health_check_passes(results: Results) -> None:
    finding = results.of(results.health, results.families["pinned"])
    assert finding.passed
    assert finding.evidence == (
        "container api (port 8080 of sp-prod/pinned, pinned-tg) runs healthCheck CMD python -m modelserve.healthcheck"
    )


def test_a_container_behind_a_target_group_without_a_health_check_fails(results: Results) -> None:
    finding = results.of(results.health, results.families["no-health"])
    assert not finding.passed
    assert finding.evidence == "container api (port 8080 of sp-prod/no-health, no-health-tg) has no healthCheck"


def test_a_worker_behind_no_target_group_is_not_judged(results: Results) -> None:
    assert results.families["worker"] not in {f.resource for f in results.health.findings}


def test_not_applicable_without_clusters(clean_backend: AwsBackend) -> None:
    context = CheckContext(backend=clean_backend)
    for which in (container_insights, image_provenance, container_health_check):
        assert run_check(which, context).status is Status.NOT_APPLICABLE, which.id
