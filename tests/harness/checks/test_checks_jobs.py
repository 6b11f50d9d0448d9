"""jobs.end-to-end and jobs.dead-letter: the API and worker run as processes from their task definitions.

Two job flows share one account: `sp-test` is wired right (redrive policy, same buckets in both task
definitions); `sp-bad` gives its worker another uploads bucket and its queue no redrive policy. Both
checks run once over the account (module fixture), with the reference app configured as any user's:
its containers' commands, and the job flow its `app/stackprobe-contract.yaml` declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from compute_builders import (
    IAM_APP_ROLE_SQL,
    alb,
    api_task_definition,
    app_resources,
    cluster,
    database,
    network,
    service,
    target_group,
    worker_task_definition,
)

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.checks.jobs import jobs_dead_letter, jobs_end_to_end
from stackprobe.datastores import LocalDatastores, parse_requests
from stackprobe.datastores.engines import host_servers
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

APP_DIR = Path(__file__).resolve().parents[3] / "app"
COMMANDS = {"api": "python -m modelserve.api --host 127.0.0.1", "worker": "python -m modelserve.worker"}


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
def results(stacks: Run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Results]:
    # The API records each job in its database before it enqueues it: a real PostgreSQL stands behind the
    # instance's endpoint (--datastore), made with the role the API logs in as (--datastore-sql).
    if not any(server.flavour == "postgres" for server in host_servers()):
        pytest.skip("no PostgreSQL binaries here (install postgresql): the API records its jobs in PostgreSQL")
    backend = stacks.reset_emulator()
    net = network(backend)
    db_host = database(backend, net)
    roles = tmp_path_factory.mktemp("jobs-db") / "roles.sql"
    roles.write_text(IAM_APP_ROLE_SQL)
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
        environment = resources.api_environment(DB_HOST=db_host)
        api = api_task_definition(backend, resources, family=f"{prefix}-api", environment=environment)
        worker = worker_task_definition(backend, resources, family=f"{prefix}-worker", environment=worker_env)
        service(backend, net, cluster_name, f"{prefix}-api", api, target_group=group)
        service(backend, net, cluster_name, f"{prefix}-worker", worker, desired=1)
    datastores = LocalDatastores(parse_requests(["sp-test-db=postgres:installed"]), setup_sql=[("sp-test-db", roles)])
    context = CheckContext(backend=backend, app_dir=APP_DIR, container_commands=COMMANDS, datastores=datastores)
    try:
        # sp-bad's flow fails both checks; the tests assert each flow's finding.
        yield Results(
            assert_check(context, jobs_end_to_end, Status.FAIL), assert_check(context, jobs_dead_letter, Status.FAIL)
        )
    finally:
        datastores.close()


def test_end_to_end_passes_through_upload_queue_and_worker(results: Results) -> None:
    finding = Results.flow(results.end_to_end, "sp-test")
    assert finding.passed, finding.evidence
    steps = finding.evidence.split(" → ")
    assert steps[0] == (
        "jobs/sp-test-api + jobs/sp-test-worker on sp-test-jobs: seed s3://sp-test-models/models/stackprobe-probe.json "
        "written"
    )
    assert any(s.startswith("GET /upload-url 200, presigned PUT of") for s in steps)
    assert any(s.startswith("POST /start-job 202 job ") for s in steps)
    assert "queue sp-test-jobs visible messages 0→1 before any worker ran" in steps
    assert any(
        "worker sp-test-worker:1 ran for 3 receives (probe settings WORKER_MAX_POLLS=3, WORKER_WAIT_SECONDS=1)" in s
        for s in steps
    )
    done, datastores = steps[-1].split("; datastores: ", 1)
    assert done.startswith("GET /job/") and '/results 200: done {"attempts": 1' in done
    assert '"label": "' in done
    # What the API recorded its job in: a real server, named, made with the operator's roles.
    assert datastores.startswith("rds instance sp-test-db (postgres 16.3) served by PostgreSQL ")
    assert "ran " in datastores and "roles.sql as master user modelserve_admin" in datastores


def test_the_flow_removes_the_objects_it_seeded(results: Results, stacks: Run) -> None:
    keys = stacks.backend.client("s3").list_object_versions(Bucket="sp-test-models").get("Versions", [])
    assert [v["Key"] for v in keys if "stackprobe-probe" in v["Key"]] == []


def test_a_flow_whose_database_this_machine_cannot_run_is_not_run_and_names_what_to_install(
    results: Results, stacks: Run
) -> None:
    # The same deployment; a major no host binary runs and, without Docker, nothing can (engines.runner_for).
    datastores = LocalDatastores(parse_requests(["sp-test-db=postgres:99"]), docker=False)
    context = CheckContext(backend=stacks.backend, app_dir=APP_DIR, container_commands=COMMANDS, datastores=datastores)
    try:
        result = run_check(jobs_end_to_end, context)
    finally:
        datastores.close()
    assert result.status is Status.NOT_APPLICABLE, result
    reason = result.not_applicable_reason or ""
    assert "jobs/sp-test-api + jobs/sp-test-worker on sp-test-jobs: not run, it needs " in reason
    assert "postgres" in reason and "99" in reason


def test_end_to_end_fails_when_the_worker_reads_another_bucket(results: Results) -> None:
    finding = Results.flow(results.end_to_end, "sp-bad")
    assert not finding.passed
    assert "queue sp-bad-jobs visible messages 0→1 before any worker ran" in finding.evidence
    assert "FAILED: GET /job/" in finding.evidence
    assert '"status": "queued"' in finding.evidence


def test_dead_letter_moves_the_poison_job_and_marks_it_failed(results: Results) -> None:
    finding = Results.flow(results.dead_letter, "sp-test")
    assert finding.passed, finding.evidence
    assert "worker sp-test-worker:1 ran for 4 receives" in finding.evidence
    assert "poison message in DLQ sp-test-jobs-dlq (0→1 messages) after maxReceiveCount 2 receives" in (
        finding.evidence
    )
    assert '/results 200: failed {"attempts": 2' in finding.evidence
    assert "cannot read image 'uploads/stackprobe-poison/" in finding.evidence


def test_dead_letter_fails_without_a_redrive_policy(results: Results) -> None:
    finding = Results.flow(results.dead_letter, "sp-bad")
    assert not finding.passed
    failure = "FAILED: queue sp-bad-jobs has no RedrivePolicy: a poison job is retried forever; datastores: "
    assert failure in finding.evidence


def test_not_applicable_without_a_declared_flow_or_configured_containers(clean_backend: AwsBackend) -> None:
    configured = CheckContext(backend=clean_backend, app_dir=APP_DIR, container_commands=COMMANDS)
    assert run_check(jobs_end_to_end, configured).status is Status.NOT_APPLICABLE
    assert run_check(jobs_dead_letter, configured).status is Status.NOT_APPLICABLE
    resources = app_resources(clean_backend)
    net = network(clean_backend)
    group = target_group(clean_backend, net, alb(clean_backend, net), name="flow")
    name = cluster(clean_backend)
    service(clean_backend, net, name, "api", api_task_definition(clean_backend, resources), target_group=group)
    service(clean_backend, net, name, "worker", worker_task_definition(clean_backend, resources), desired=1)
    # The same flow, but no contract declares it (the app directory is the Terraform's, holding none) ...
    undeclared = CheckContext(backend=clean_backend, source_dir=Path(__file__).parent, container_commands=COMMANDS)
    assert run_check(jobs_end_to_end, undeclared).status is Status.NOT_APPLICABLE
    # ... or declared, but nobody said how to run the worker.
    api_only = CheckContext(backend=clean_backend, app_dir=APP_DIR, container_commands={"api": COMMANDS["api"]})
    unrun = run_check(jobs_dead_letter, api_only)
    assert unrun.status is Status.NOT_APPLICABLE
    assert "worker" in unrun.not_applicable_reason and "--container" in unrun.not_applicable_reason
