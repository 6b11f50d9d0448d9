"""database.master-credentials: which services reach a database as its master user.

One account: a database whose master password RDS manages, and one service per way of connecting (the
master secret injected, the master user named, a secret of its own that holds the master's name, an
application role with IAM authentication). The check runs once (module fixture); each test asserts one
service's finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from compute_builders import api_task_definition, app_resources, cluster, network, service

from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.checks.credentials import master_credentials
from stackprobe.lifecycle.run import Run

pytestmark = pytest.mark.harness

MASTER = "admin_user"


@dataclass(frozen=True)
class Results:
    result: CheckResult

    def service(self, name: str) -> Finding:
        matches = [f for f in self.result.findings if f"/{name} (" in f.evidence]
        assert len(matches) == 1, [f.evidence for f in self.result.findings]
        return matches[0]


@pytest.fixture(scope="module")
def results(stacks: Run) -> Results:
    backend = stacks.reset_emulator()
    db = backend.client("rds").create_db_instance(
        DBInstanceIdentifier="sp-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername=MASTER,
        ManageMasterUserPassword=True,
    )["DBInstance"]
    address, master_secret = db["Endpoint"]["Address"], db["MasterUserSecret"]["SecretArn"]
    own_secret = backend.client("secretsmanager").create_secret(
        Name="sp-reporting-db", SecretString=json.dumps({"username": MASTER, "password": "copied-by-hand"})
    )["ARN"]
    resources = app_resources(backend)
    net = network(backend)
    name = cluster(backend)

    def deploy(service_name: str, secrets: list[dict[str, str]], **env: str) -> None:
        environment = [{"name": k, "value": v} for k, v in {"DB_HOST": address, "DB_PORT": "5432", **env}.items()]
        task = api_task_definition(
            backend, resources, family=service_name, environment=environment, secrets=secrets, health_check=None
        )
        service(backend, net, name, service_name, task)

    deploy("injects-master-secret", [{"name": "DB_SECRET", "valueFrom": f"{master_secret}:password::"}])
    deploy("names-master-user", [], DB_USER=MASTER)
    deploy("copies-master-secret", [{"name": "DB_SECRET", "valueFrom": own_secret}])
    deploy("app-role-iam", [], DB_USER="modelserve_app")
    return Results(run_check(master_credentials, CheckContext(backend=backend)))


def test_the_check_fails_while_any_service_uses_the_master(results: Results) -> None:
    assert results.result.status == Status.FAIL


def test_the_injected_master_secret_fails(results: Results) -> None:
    finding = results.service("injects-master-secret")
    assert finding.passed is False
    assert (
        finding.evidence
        == "sp-db ← sp-test/injects-master-secret (direct): secret DB_SECRET is the instance's master secret"
    )


def test_naming_the_master_user_fails(results: Results) -> None:
    finding = results.service("names-master-user")
    assert finding.passed is False
    assert finding.evidence.endswith(f"DB_USER={MASTER}, the master user")


def test_a_secret_of_its_own_with_the_masters_name_fails(results: Results) -> None:
    finding = results.service("copies-master-secret")
    assert finding.passed is False
    assert finding.evidence.endswith(f"secret DB_SECRET holds the master user {MASTER}'s credentials")
    assert "copied-by-hand" not in finding.evidence


def test_an_application_role_passes(results: Results) -> None:
    finding = results.service("app-role-iam")
    assert finding.passed
    assert finding.evidence.endswith("(direct): DB_USER=modelserve_app")
