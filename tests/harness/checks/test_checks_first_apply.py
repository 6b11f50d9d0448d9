"""deployment.listener-before-service, deployment.certificate-validation-path, database.replica-managed-password.

What the first real apply gets wrong although the emulator accepts it. The ordering and the certificate are
judged from the Terraform state (its `dependencies`, and which certificates the configuration requested),
so the tests write the state a configuration would leave, with the emulator holding only what the check
asks AWS about (the hosted zones); the replica is judged from a plan, written as `terraform show -json`
prints it.
"""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, Status
from stackprobe.checks.first_apply import certificate_validation_path, listener_before_service, replica_managed_password
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness

TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/sp-api/0123456789abcdef"
OTHER_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/sp-admin/fedcba9876543210"
OFFLINE = AwsBackend("offline (no AWS call is made)", "http://127.0.0.1:9", "eu-west-1", "123456789012")


def _resource(
    module: str | None, kind: str, name: str, attributes: dict[str, Any], depends: list[str]
) -> dict[str, Any]:
    return {
        "mode": "managed",
        "module": module,
        "type": kind,
        "name": name,
        "instances": [{"index_key": 0, "attributes": attributes, "dependencies": depends}],
    }


def _ordering_state(service_depends: list[str], *, listener_forwards: str = TG) -> dict[str, Any]:
    """module.edge: target group + HTTPS listener; module.service: the API service in the target group."""
    return {
        "resources": [
            _resource("module.edge", "aws_lb_target_group", "api", {"arn": TG, "id": TG}, []),
            _resource("module.edge", "aws_lb_target_group", "admin", {"arn": OTHER_TG, "id": OTHER_TG}, []),
            _resource(
                "module.edge",
                "aws_lb_listener",
                "https",
                {"arn": "listener-arn", "default_action": [{"type": "forward", "target_group_arn": listener_forwards}]},
                ["module.edge.aws_lb_target_group.api"],
            ),
            _resource(
                "module.service",
                "aws_ecs_service",
                "api",
                {"id": "service-arn", "load_balancer": [{"target_group_arn": TG, "container_name": "api"}]},
                service_depends,
            ),
        ]
    }


def test_a_service_that_waits_for_the_listener_passes() -> None:
    # As the reference stack records it: the target group output depends_on the listener.
    state = _ordering_state(["module.edge.aws_lb_listener.https", "module.edge.aws_lb_target_group.api"])
    result = run_check(listener_before_service, CheckContext(backend=OFFLINE, state=state))

    assert result.status == Status.PASS, result.findings
    assert result.findings[0].evidence == (
        "module.service.aws_ecs_service.api[0] → target group sp-api: created after module.edge.aws_lb_listener.https"
    )


def test_waiting_is_followed_through_other_resources() -> None:
    state = _ordering_state(["module.edge.aws_lb_target_group.api", "module.iam.aws_iam_role.task"])
    state["resources"].append(
        _resource("module.iam", "aws_iam_role", "task", {"id": "role"}, ["module.edge.aws_lb_listener.https"])
    )
    result = run_check(listener_before_service, CheckContext(backend=OFFLINE, state=state))

    assert result.status == Status.PASS, result.findings


def test_a_service_that_only_references_the_target_group_fails() -> None:
    """The defect of the reference stack before issue 19: nothing orders the service after the listener."""
    state = _ordering_state(["module.edge.aws_lb_target_group.api", "module.network.aws_subnet.private_app"])
    result = run_check(listener_before_service, CheckContext(backend=OFFLINE, state=state))

    assert result.status == Status.FAIL
    finding = result.findings[0]
    assert finding.passed is False
    assert "nothing makes it wait for module.edge.aws_lb_listener.https" in finding.evidence
    assert "AWS refuses it (the target group has no associated load balancer yet)" in finding.evidence
    assert finding.address == "module.service.aws_ecs_service.api[0]"


def test_a_target_group_no_listener_forwards_to_fails() -> None:
    state = _ordering_state(["module.edge.aws_lb_target_group.api"], listener_forwards=OTHER_TG)
    result = run_check(listener_before_service, CheckContext(backend=OFFLINE, state=state))

    assert result.status == Status.FAIL
    assert "no listener of this configuration forwards to target group sp-api" in result.findings[0].evidence


def test_ordering_is_not_applicable_without_state() -> None:
    assert run_check(listener_before_service, CheckContext(backend=OFFLINE)).status == Status.NOT_APPLICABLE


# -- certificates -------------------------------------------------------------------------------------


def _certificate_state(*domains: str) -> dict[str, Any]:
    return {
        "resources": [
            _resource(
                "module.edge",
                "aws_acm_certificate",
                domain.split(".")[0],
                {
                    "arn": f"arn:aws:acm:eu-west-1:123456789012:certificate/{domain}",
                    "domain_name": domain,
                    "validation_method": "DNS",
                    "domain_validation_options": [
                        {
                            "domain_name": domain,
                            "resource_record_name": f"_x1.{domain}.",
                            "resource_record_type": "CNAME",
                            "resource_record_value": f"_y1.{domain.split('.')[0]}.acm-validations.aws.",
                        }
                    ],
                },
                [],
            )
            for domain in domains
        ]
    }


def test_a_certificate_is_judged_by_its_records_in_the_accounts_zones(clean_backend: AwsBackend) -> None:
    route53 = clean_backend.client("route53")
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="sp-cert")["HostedZone"]["Id"]
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "_x1.api.example.com.",
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "_y1.api.acm-validations.aws."}],
                    },
                }
            ]
        },
    )
    state = _certificate_state("api.example.com", "static.example.com")
    result = run_check(certificate_validation_path, CheckContext(backend=clean_backend, state=state))

    by_domain = {f.evidence.split("(", 1)[1].split(")", 1)[0]: f for f in result.findings}
    assert by_domain["api.example.com"].passed
    assert by_domain["api.example.com"].evidence.endswith("validated through CNAME _x1.api.example.com")
    unpublished = by_domain["static.example.com"]
    assert unpublished.passed is False
    assert "CNAME _x1.static.example.com is in no hosted zone of the account" in unpublished.evidence
    assert "the first apply waits for someone to publish it by hand" in unpublished.evidence


def test_certificates_not_requested_by_dns_are_not_judged(clean_backend: AwsBackend) -> None:
    state = _certificate_state("api.example.com")
    state["resources"][0]["instances"][0]["attributes"]["validation_method"] = "EMAIL"

    result = run_check(certificate_validation_path, CheckContext(backend=clean_backend, state=state))

    assert result.status == Status.NOT_APPLICABLE


# -- read replicas ------------------------------------------------------------------------------------


def _plan(primary: dict[str, Any]) -> Plan:
    instance = {"engine": "mysql", "identifier": "sp-db", "manage_master_user_password": None, **primary}
    return Plan(
        {
            "planned_values": {
                "root_module": {
                    "child_modules": [
                        {
                            "address": "module.database",
                            "resources": [
                                {
                                    "address": "module.database.aws_db_instance.this[0]",
                                    "mode": "managed",
                                    "type": "aws_db_instance",
                                    "name": "this",
                                    "values": instance,
                                },
                                {
                                    "address": "module.database.aws_db_instance.replica[0]",
                                    "mode": "managed",
                                    "type": "aws_db_instance",
                                    "name": "replica",
                                    "values": {"identifier": "sp-db-replica-1", "replicate_source_db": "sp-db"},
                                },
                            ],
                        }
                    ]
                }
            }
        }
    )


def test_a_replica_of_a_primary_whose_password_rds_manages_fails_with_awss_answer() -> None:
    plan = _plan({"manage_master_user_password": True})
    result = run_check(replica_managed_password, CheckContext(backend=OFFLINE, plan=plan))

    assert result.status == Status.FAIL
    assert result.findings[0].evidence == (
        "module.database.aws_db_instance.replica[0] replicates module.database.aws_db_instance.this[0], whose master "
        'password RDS manages (manage_master_user_password = true): AWS answers "Creating read replicas for source '
        'instance with engine mysql where ManageMasterUserPassword is enabled is not supported"'
    )


@pytest.mark.parametrize(
    "primary",
    [{"manage_master_user_password": None}, {"manage_master_user_password": True, "engine": "sqlserver-se"}],
    ids=["stack-managed password", "sql server"],
)
def test_a_replica_rds_allows_passes(primary: dict[str, Any]) -> None:
    result = run_check(replica_managed_password, CheckContext(backend=OFFLINE, plan=_plan(primary)))

    assert result.status == Status.PASS, result.findings


def test_the_replica_check_needs_a_plan() -> None:
    assert run_check(replica_managed_password, CheckContext(backend=OFFLINE)).status == Status.SKIPPED
