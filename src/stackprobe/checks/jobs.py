"""The job flow works end to end, and a poison job ends in the dead-letter queue.

Both checks run the reference app's API and worker as local processes from their deployed task
definitions (`stackprobe.probes.jobs`), so they apply only where the deployed services run that app:
the API is a load-balanced service with JOBS_QUEUE_URL, the worker a service running
`modelserve.worker` (or with JOBS_QUEUE_URL and no port mapping) on the same queue.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stackprobe.aws.workloads import Workload, discover_workloads
from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.probes.jobs import FlowReport, JobServices, dead_letter, end_to_end

QUEUE_VARIABLE = "JOBS_QUEUE_URL"


@dataclass(frozen=True)
class JobFlow:
    api: Workload
    api_container: str
    worker: Workload
    worker_container: str
    queue_url: str

    @property
    def services(self) -> JobServices:
        return JobServices(
            self.api.task_definition_arn, self.api_container, self.worker.task_definition_arn, self.worker_container
        )

    @property
    def label(self) -> str:
        return f"{self.api.label} + {self.worker.label} on {self.queue_url.rsplit('/', 1)[-1]}"


def _is_worker_container(container: Mapping[str, Any]) -> bool:
    command = " ".join(str(part) for part in container.get("command") or [])
    return "modelserve.worker" in command or not container.get("portMappings")


def job_flows(ctx: CheckContext) -> list[JobFlow]:
    """API/worker pairs of the reference app that share a jobs queue."""
    workloads = [w for w in discover_workloads(ctx) if w.runs_reference_app()]
    flows: list[JobFlow] = []
    for api in workloads:
        container = api.container()
        if not api.load_balancers or container is None:
            continue
        queue_url = api.environment(container).get(QUEUE_VARIABLE)
        if not queue_url:
            continue
        for worker in workloads:
            if worker is api:
                continue
            for candidate in worker.containers:
                if _is_worker_container(candidate) and worker.environment(candidate).get(QUEUE_VARIABLE) == queue_url:
                    flows.append(JobFlow(api, str(container["name"]), worker, str(candidate["name"]), queue_url))
                    break
    return flows


def _finding(ctx: CheckContext, check_: Check, flow: JobFlow, report: FlowReport) -> Finding:
    return ctx.finding(
        check_, report.passed, flow.queue_url, f"{flow.label}: {report.evidence}", flow.api.arn, flow.worker.arn
    )


@check(
    "jobs.end-to-end",
    "An uploaded image becomes a queued job that the worker completes",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    fidelity=Fidelity.BEHAVIOUR,
    services=("ecs", "s3", "sqs"),
    why="Upload, API, queue and worker are wired by names in two task definitions; a queue URL pointing at "
    "another queue, a bucket the worker does not read, or an API that cannot enqueue each break the product "
    "while every resource looks fine on its own.",
    fix="Give the API and worker task definitions the same UPLOADS_BUCKET, MODELS_BUCKET and JOBS_QUEUE_URL "
    "(from the same Terraform outputs), and the task roles the S3/SQS/KMS permissions the flow needs.",
    reference="terraform/main.tf (app_environment) and terraform/modules/service",
)
def jobs_end_to_end(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for flow in job_flows(ctx):
        yield _finding(ctx, check_, flow, end_to_end(ctx.backend, flow.services, app_dir=ctx.app_dir))


@check(
    "jobs.dead-letter",
    "A job that keeps failing moves to the dead-letter queue and reads as failed",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    fidelity=Fidelity.BEHAVIOUR,
    services=("ecs", "s3", "sqs"),
    why="Without a working redrive policy a poison message is received forever: it burns worker time, "
    "hides behind it the jobs that could succeed, and its user never learns the job failed.",
    fix="Give the jobs queue a RedrivePolicy to a dead-letter queue (maxReceiveCount 3-5) and alarm on the "
    "DLQ's depth.",
    reference="terraform/modules/queue",
)
def jobs_dead_letter(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for flow in job_flows(ctx):
        yield _finding(ctx, check_, flow, dead_letter(ctx.backend, flow.services, app_dir=ctx.app_dir))
