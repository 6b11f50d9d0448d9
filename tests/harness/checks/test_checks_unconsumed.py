"""capacity.unconsumed: replicas and caches no task is given, and pool settings no container reads.

One account: a primary with two read replicas (one given to the API, one to no one), two caches (one given,
one not), and task definitions that pass pool settings; the application's contract (written to a temporary
app directory) says which variables each container reads. The check runs once per contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from compute_builders import api_task_definition, app_resources, cluster, network, service, worker_task_definition

from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.checks.unconsumed import unconsumed
from stackprobe.lifecycle.run import Run

pytestmark = pytest.mark.harness

CONTRACT = """
environment:
  api: [DB_HOST, DB_POOL_SIZE, DB_READ_HOSTS, CACHE_HOST]
  worker: [JOBS_QUEUE_URL]
"""


@dataclass(frozen=True)
class Results:
    with_contract: CheckResult
    without_contract: CheckResult

    def about(self, text: str, result: CheckResult | None = None) -> Finding:
        matches = [f for f in (result or self.with_contract).findings if text in f.evidence]
        assert len(matches) == 1, [f.evidence for f in (result or self.with_contract).findings]
        return matches[0]


@pytest.fixture(scope="module")
def results(stacks: Run, tmp_path_factory: pytest.TempPathFactory) -> Results:
    backend = stacks.reset_emulator()
    rds = backend.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="sp-db",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="stack-managed-password",
    )
    replicas = {
        name: rds.create_db_instance_read_replica(DBInstanceIdentifier=name, SourceDBInstanceIdentifier="sp-db")[
            "DBInstance"
        ]["Endpoint"]["Address"]
        for name in ("sp-db-replica-read", "sp-db-replica-idle")
    }
    elasticache = backend.client("elasticache")
    for group in ("sp-live", "sp-forgotten"):
        elasticache.create_replication_group(
            ReplicationGroupId=group,
            ReplicationGroupDescription=group,
            Engine="redis",
            CacheNodeType="cache.t4g.small",
            NumCacheClusters=2,
            AutomaticFailoverEnabled=True,
        )
    cache_host = elasticache.describe_replication_groups(ReplicationGroupId="sp-live")["ReplicationGroups"][0][
        "NodeGroups"
    ][0]["PrimaryEndpoint"]["Address"]
    resources = app_resources(backend)
    net = network(backend)
    name = cluster(backend)
    api_env = resources.api_environment(
        DB_POOL_SIZE="4",
        DB_READ_HOSTS=replicas["sp-db-replica-read"],
        CACHE_HOST=cache_host,
        SQLALCHEMY_MAX_OVERFLOW="10",
    )
    service(backend, net, name, "api", api_task_definition(backend, resources, environment=api_env))
    worker_env = resources.worker_environment(DB_POOL_SIZE="5")
    service(backend, net, name, "worker", worker_task_definition(backend, resources, environment=worker_env))
    app_dir = tmp_path_factory.mktemp("app")
    (app_dir / "stackprobe-contract.yaml").write_text(CONTRACT)
    return Results(
        run_check(unconsumed, CheckContext(backend=backend, app_dir=app_dir)),
        run_check(unconsumed, CheckContext(backend=backend, app_dir=Path(tmp_path_factory.mktemp("no-contract")))),
    )


def test_a_replica_given_to_a_task_passes(results: Results) -> None:
    finding = results.about("read replica sp-db-replica-read")
    assert finding.passed
    assert finding.evidence.endswith("is given to sp-test/api")


def test_a_replica_no_task_is_given_fails(results: Results) -> None:
    finding = results.about("read replica sp-db-replica-idle")
    assert finding.passed is False
    assert "no task definition is given its endpoint" in finding.evidence
    assert "nothing reads from it" in finding.evidence


def test_a_cache_is_judged_by_whether_a_task_is_given_an_endpoint(results: Results) -> None:
    assert results.about("cache sp-live").passed
    forgotten = results.about("cache sp-forgotten")
    assert forgotten.passed is False
    assert forgotten.evidence.startswith("cache sp-forgotten: no task definition is given any of its endpoints (")


def test_a_pool_setting_the_application_does_not_read_fails(results: Results) -> None:
    api = results.about("container api is given")
    assert api.passed is False
    assert api.evidence.startswith("sp-test/api container api is given SQLALCHEMY_MAX_OVERFLOW, which its application")
    worker = results.about("container worker is given")
    assert worker.passed is False and "DB_POOL_SIZE" in worker.evidence


def test_pool_settings_are_not_judged_without_the_applications_list(results: Results) -> None:
    evidence = [f.evidence for f in results.without_contract.findings]
    assert not [e for e in evidence if "container" in e], evidence
    assert results.without_contract.status == Status.FAIL  # the idle replica and the forgotten cache remain
