"""jobs.end-to-end and jobs.dead-letter: the API and worker run as processes from their task definitions.

Two job flows share one account: `sp-test` is wired right (redrive policy, same buckets in both task
definitions); `sp-bad` gives its worker another uploads bucket and its queue no redrive policy. Both
checks run once over the account (module fixture).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from compute_builders import (
    alb,
    api_task_definition,
    app_resources,
    cluster,
    network,
    service,
    target_group,
    worker_task_definition,
)

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.checks.jobs import jobs_dead_letter, jobs_end_to_end
from stackprobe.session import StackSession

pytestmark = pytest.mark.harness


@dataclass(frozen=True)
class Results:
    end_to_end: CheckResult
    dead_letter: CheckResult

    @staticmethod
    def flow(result: CheckResult, prefix: str) -> Finding:
        matches = [f for f in result.findings if f.evidence.startswith(f"jobs/{prefix}-api + ")]
        assert len(matches) == 1, [f.evidence for f in result.findings]
        return matches[0]


@pytest.fixture(scope="module")
def results(stacks: StackSession) -> Results:
    backend = stacks.reset_emulator()
    net = network(backend)
    alb_arn = alb(backend, net)
    cluster_name = cluster(backend, "jobs")
    good = app_resources(backend, prefix="sp-test", max_receive_count=2)
    bad = app_resources(backend, prefix="sp-bad", redrive=False)
    for resources, port, worker_env in (
        (good, 80, good.worker_environment()),
        (bad, 81, bad.worker_environment(UPLOADS_BUCKET="sp-bad-elsewhere")),
    ):
        prefix = resources.models_bucket.removesuffix("-models")
        group = target_group(backend, net, alb_arn, name=prefix, listener_port=port)
        api = api_task_definition(backend, resources, family=f"{prefix}-api", environment=resources.api_environment())
        worker = worker_task_definition(backend, resources, family=f"{prefix}-worker", environment=worker_env)
        service(backend, net, cluster_name, f"{prefix}-api", api, target_group=group)
        service(backend, net, cluster_name, f"{prefix}-worker", worker, desired=1)
    context = CheckContext(backend=backend)
    return Results(run_check(jobs_end_to_end, context), run_check(jobs_dead_letter, context))


def test_end_to_end_passes_through_upload_queue_and_worker(results: Results) -> None:
    finding = Results.flow(results.end_to_end, "sp-test")
    assert finding.passed, finding.evidence
    steps = finding.evidence.split(" → ")
    assert steps[0].startswith("jobs/sp-test-api + jobs/sp-test-worker on sp-test-jobs: probe model")
    assert any(s.startswith("GET /upload-url 200, presigned PUT of") for s in steps)
    assert any(s.startswith("POST /start-job 202 job ") for s in steps)
    assert "queue sp-test-jobs visible messages 0→1 before any worker ran" in steps
    assert any("worker sp-test-worker:1 ran 3 polls" in s for s in steps)
    assert steps[-1].startswith("GET /job/") and ": done, label " in steps[-1]


def test_end_to_end_fails_when_the_worker_reads_another_bucket(results: Results) -> None:
    finding = Results.flow(results.end_to_end, "sp-bad")
    assert not finding.passed
    assert "queue sp-bad-jobs visible messages 0→1 before any worker ran" in finding.evidence
    assert "FAILED: GET /job/" in finding.evidence
    assert "'status': 'queued'" in finding.evidence


def test_dead_letter_moves_the_poison_job_and_marks_it_failed(results: Results) -> None:
    finding = Results.flow(results.dead_letter, "sp-test")
    assert finding.passed, finding.evidence
    assert "worker sp-test-worker:1 ran 4 polls" in finding.evidence
    assert "poison message in DLQ sp-test-jobs-dlq (0→1 messages) after maxReceiveCount 2 receives" in (
        finding.evidence
    )
    assert ": failed after 2 attempts (cannot read image 'uploads/stackprobe-poison/" in finding.evidence


def test_dead_letter_fails_without_a_redrive_policy(results: Results) -> None:
    finding = Results.flow(results.dead_letter, "sp-bad")
    assert not finding.passed
    assert finding.evidence.endswith("FAILED: queue sp-bad-jobs has no RedrivePolicy: a poison job is retried forever")


def test_not_applicable_without_the_reference_app(clean_backend: AwsBackend) -> None:
    context = CheckContext(backend=clean_backend)
    assert run_check(jobs_end_to_end, context).status is Status.NOT_APPLICABLE
    assert run_check(jobs_dead_letter, context).status is Status.NOT_APPLICABLE
    # A load-balanced service that runs another image has no API this probe can stand in for.
    resources = app_resources(clean_backend)
    net = network(clean_backend)
    group = target_group(clean_backend, net, alb(clean_backend, net), name="other")
    web = api_task_definition(
        clean_backend, resources, image="public.ecr.aws/docker/library/httpd:2.4", health_check=None
    )
    name = cluster(clean_backend)
    service(clean_backend, net, name, "web", web, target_group=group)
    service(clean_backend, net, name, "worker", worker_task_definition(clean_backend, resources), desired=1)
    assert run_check(jobs_end_to_end, context).status is Status.NOT_APPLICABLE
    assert run_check(jobs_dead_letter, context).status is Status.NOT_APPLICABLE
