"""The job flow works end to end, and a poison job ends in the dead-letter queue.

Both checks run an app's API and worker as local stand-ins from their deployed task definitions
(`stackprobe.probes.jobs`). No library can guess what a job is, so they apply only where the app
declares its job flow (`jobs` in its stackprobe-contract.yaml: which containers accept and run jobs,
the variable naming their queue, the routes that submit a job and read its state; see
`stackprobe.probes.contract`) and both containers are configured to run locally (`--container`). A flow
is an API service behind a load balancer and a worker service whose containers declare the same queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from stackprobe.aws.workloads import Workload
from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.datastores import Access, access_for
from stackprobe.errors import NotApplicable
from stackprobe.probes.containers import StandIns, enable_hint
from stackprobe.probes.contract import JobsContract, contract_for
from stackprobe.probes.jobs import FlowReport, JobProbe, JobServices, dead_letter, end_to_end


@dataclass(frozen=True)
class JobFlow:
    api: Workload
    worker: Workload
    api_port: int | None
    queue_url: str

    def services(self, api: Access, worker: Access) -> JobServices:
        return JobServices(
            self.api.task_definition_arn,
            self.worker.task_definition_arn,
            self.api_port,
            api_addresses=api.addresses,
            worker_addresses=worker.addresses,
        )

    @property
    def label(self) -> str:
        return f"{self.api.label} + {self.worker.label} on {self.queue_url.rsplit('/', 1)[-1]}"


def job_flows(workloads: Sequence[Workload], contract: JobsContract) -> list[JobFlow]:
    """API/worker pairs, as the contract names their containers, that share a queue."""
    flows: list[JobFlow] = []
    for api in workloads:
        container = api.container(contract.api_container)
        entries = [lb for lb in api.load_balancers if lb.get("containerName") == contract.api_container]
        if container is None or not entries:
            continue
        queue_url = api.environment(container).get(contract.queue_variable)
        if not queue_url:
            continue
        for worker in workloads:
            candidate = worker.container(contract.worker_container)
            if worker is api or candidate is None:
                continue
            if worker.environment(candidate).get(contract.queue_variable) == queue_url:
                port = int(entries[0].get("containerPort") or 0) or None
                flows.append(JobFlow(api, worker, port, queue_url))
                break
    return flows


def _probes(ctx: CheckContext) -> tuple[list[JobFlow], JobProbe] | None:
    """The flows to run and how, or None when the app declares no job flow or its containers cannot run."""
    contract = contract_for(ctx)
    if contract.jobs is None or contract.upload is None:
        return None
    workloads = ctx.account.ecs.workloads()
    flows = job_flows(workloads, contract.jobs)
    if not flows:
        return None
    stand_ins = StandIns.configured(ctx, workloads)
    names = [contract.jobs.api_container, contract.jobs.worker_container]
    missing = stand_ins.missing(names)
    if missing:
        # Nothing runs, so the checks are not applicable; the reason is what a reader needs next.
        raise NotApplicable(
            f"the job flow of {contract.source} is not probed: {enable_hint(missing, stand_ins.run_dir)}"
        )
    stand_ins.require_engine_for(names)
    return flows, JobProbe(contract.jobs, contract.upload, stand_ins)


def _run(
    ctx: CheckContext, check_: Check, flows: list[JobFlow], flow_of: Callable[[JobServices], FlowReport]
) -> Iterator[Finding]:
    """Each flow run with the local datastores its services' environments name (`--datastore`); a flow that
    needs one this machine cannot run is not judged (what it would measure is the missing server)."""
    unrun: list[str] = []
    judged = 0
    for flow in flows:
        api, worker = access_for(ctx.datastores, ctx, flow.api), access_for(ctx.datastores, ctx, flow.worker)
        if api.unavailable or worker.unavailable:
            unrun.append(
                f"{flow.label}: not run, it needs {'; '.join(dict.fromkeys(api.unavailable + worker.unavailable))}"
            )
            continue
        report = flow_of(flow.services(api, worker))
        extra = list(dict.fromkeys(api.evidence(report.passed) + worker.evidence(report.passed)))
        evidence = "; ".join([f"{flow.label}: {report.evidence}", *extra])
        judged += 1
        yield ctx.finding(check_, report.passed, flow.queue_url, evidence, flow.api.arn, flow.worker.arn)
    if not unrun:
        return
    if judged:
        # Beside real findings, a note: the result stays as they make it.
        yield Finding(check_.id, True, check_.id, "; ".join(unrun), severity=Severity.INFO)
    else:
        raise NotApplicable("; ".join(unrun))


@check(
    "jobs.end-to-end",
    "A job submitted to the API is queued, and the worker completes it",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    fidelity=Fidelity.BEHAVIOUR,
    services=("ecs", "s3", "sqs"),
    why="Upload, API, queue and worker are wired by names in two task definitions; a queue URL pointing at "
    "another queue, a bucket the worker does not read, or an API that cannot enqueue each break the product "
    "while every resource looks fine on its own.",
    fix="Give the API and worker task definitions the same bucket and queue variables (from the same Terraform "
    "outputs), and the task roles the S3/SQS/KMS permissions the flow needs.",
    reference="terraform/main.tf (app_environment) and terraform/modules/service",
    reads=("aws_ecs_service",),
)
def jobs_end_to_end(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    found = _probes(ctx)
    if found is None:
        return
    flows, probe = found
    yield from _run(ctx, check_, flows, lambda services: end_to_end(ctx.backend, services, probe))


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
    reads=("aws_ecs_service",),
)
def jobs_dead_letter(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    found = _probes(ctx)
    if found is None:
        return
    flows, probe = found
    yield from _run(ctx, check_, flows, lambda services: dead_letter(ctx.backend, services, probe))
