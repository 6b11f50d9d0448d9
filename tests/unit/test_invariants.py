"""Properties every scenario's plan must have, whatever its sizes: the secure defaults hold everywhere."""

from __future__ import annotations

import json
import re

import pytest
from scenario_specs import ENVIRONMENTS, SCENARIOS

from stackprobe.terraform.plan import Plan, Unknown

pytestmark = pytest.mark.unit

WORLD = {"0.0.0.0/0", "::/0"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_world_ingress_only_to_the_load_balancer_on_80_and_443(scenario: str, scenario_plans: dict[str, Plan]) -> None:
    plan = scenario_plans[scenario]
    offending = []
    for rule in plan.resources("aws_vpc_security_group_ingress_rule"):
        if {rule.get("cidr_ipv4"), rule.get("cidr_ipv6")} & WORLD:
            ports = (rule.get("from_port"), rule.get("to_port"))
            if "module.edge" not in rule.address or ports not in ((80, 80), (443, 443)):
                offending.append(f"{rule.address} {ports}")
    for group in plan.resources("aws_security_group"):
        inline = group.get("ingress")
        for ingress in inline if isinstance(inline, list) else []:
            if set(ingress.get("cidr_blocks") or []) & WORLD:
                offending.append(f"{group.address} inline ingress {ingress.get('from_port')}")
    assert not offending, f"{scenario}: world ingress outside the ALB listeners: {offending}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_bucket_is_private_and_encrypted(scenario: str, scenario_plans: dict[str, Plan]) -> None:
    plan = scenario_plans[scenario]
    buckets = {b.address.rsplit(".", 1)[0] + "." + b.address.rsplit(".", 1)[1] for b in plan.resources("aws_s3_bucket")}
    blocks = plan.resources("aws_s3_bucket_public_access_block")
    assert len(blocks) == len(buckets), f"{scenario}: {len(buckets)} buckets but {len(blocks)} public access blocks"
    for block in blocks:
        flags = [
            block.get(k)
            for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        ]
        assert flags == [True, True, True, True], f"{block.address}: {flags}"
    encryptions = plan.resources("aws_s3_bucket_server_side_encryption_configuration")
    assert len(encryptions) == len(buckets)
    for encryption in encryptions:
        algorithm = encryption.get("rule.0.apply_server_side_encryption_by_default.0.sse_algorithm")
        assert algorithm in ("aws:kms", "AES256"), f"{encryption.address}: {algorithm}"
    versioning = plan.resources("aws_s3_bucket_versioning")
    assert all(v.get("versioning_configuration.0.status") == "Enabled" for v in versioning)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_plaintext_secret_in_any_task_definition(scenario: str, scenario_plans: dict[str, Plan]) -> None:
    plan = scenario_plans[scenario]
    for task in plan.resources("aws_ecs_task_definition"):
        definitions = task.get("container_definitions")
        if definitions is Unknown or definitions is None:
            continue
        for container in json.loads(definitions):
            names = [e["name"] for e in container.get("environment") or []]
            leaked = [n for n in names if any(w in n.upper() for w in ("PASSWORD", "SECRET", "TOKEN"))]
            assert not leaked, f"{task.address}: secret-looking env {leaked}; use `secrets` from Secrets Manager"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_databases_are_private_encrypted_and_backed_up(scenario: str, scenario_plans: dict[str, Plan]) -> None:
    plan = scenario_plans[scenario]
    instances = plan.resources("aws_db_instance")
    sources = {db.get("replicate_source_db") for db in instances} - {None, ""}
    for db in instances:
        if db.get("replicate_source_db") not in (None, ""):
            continue
        assert db.get("publicly_accessible") is False, db.address
        assert db.get("storage_encrypted") is True, db.address
        assert db.get("backup_retention_period") >= 7, db.address
        assert db.get("copy_tags_to_snapshot") is True, db.address
        assert db.get("password") is None, f"{db.address}: a master password in the plan (and so in state)"
        if db.get("identifier") in sources:
            # RDS refuses replicas of a primary whose password it manages: the stack writes its own, write-only.
            assert db.get("manage_master_user_password") is not True, db.address
            assert db.get("password_wo_version") is not None, db.address
        else:
            assert db.get("manage_master_user_password") is True, db.address


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_default_tags_are_set(scenario: str, scenario_plans: dict[str, Plan]) -> None:
    plan = scenario_plans[scenario]
    # The stack's key exists in every scenario (its VPC does not in an existing network's).
    tags = plan.resources("aws_kms_key")[0].get("tags_all")
    assert set(tags) >= {"Project", "Environment", "Owner", "CostCenter", "ManagedBy"}, tags


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_task_is_given_a_database_secret(scenario: str, scenario_plans: dict[str, Plan]) -> None:
    """The tasks log in with IAM tokens as an application role: no task definition injects a secret."""
    plan = scenario_plans[scenario]
    for task in plan.resources("aws_ecs_task_definition"):
        definitions = task.get("container_definitions")
        if definitions is Unknown or definitions is None:
            continue
        for container in json.loads(definitions):
            assert not container.get("secrets"), f"{task.address}: secrets {container['secrets']}"


# The scenarios whose tfvars say they are production (`environment = "prod"`).
PRODUCTION = [
    name
    for name in SCENARIOS
    if re.search(r'^environment\s*=\s*"prod"', (ENVIRONMENTS / f"{name}.tfvars").read_text(), re.MULTILINE)
]


@pytest.mark.parametrize("scenario", PRODUCTION)
def test_a_production_scenarios_alarms_page_someone(scenario: str, scenario_plans: dict[str, Plan]) -> None:
    """alarms.topic-subscribed judges this on the deployed stack; the plan already says it. Three production
    scenarios shipped with alarms that notified nobody (found applying sports-commentary)."""
    plan = scenario_plans[scenario]
    assert plan.variables().get("environment") == "prod"
    subscriptions = [s for s in plan.resources("aws_sns_topic_subscription") if "module.observability" in s.address]
    assert subscriptions, f"{scenario}: production alarms notify nobody (set alarm_email_addresses in its tfvars)"
