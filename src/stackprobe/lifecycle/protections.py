"""What keeps `terraform destroy` from removing a stack, and how the harness lifts it before its teardown.

Production stacks protect what matters: deletion protection on databases and load balancers, a final
snapshot before a database goes, no `force_destroy` on buckets that hold data. The checks judge the stack
with those settings on. Destroying it afterwards then needs them off, and there are two ways:
- a teardown variable the user gives (`--teardown-var allow_destroy_for_tests=true`), applied by terraform
  first: it works for a stack written to be lifted that way, and costs a whole apply, whose database
  modification alone waits about 90 s in the provider (the speed issue measured it);
- this module, for every stack as it is: each protection is a record of the resource type, the attribute,
  the value that lets destroy through, and, where AWS enforces it server-side (deletion protection), the
  emulator API call that lifts it. The API call is made, then the state is rewritten with the lifted values
  (a destroy reads `skip_final_snapshot`, `force_destroy` and the like from the state, never from the
  configuration), so the destroy that follows goes through without an apply and without touching a file
  of the user's. The teardown report lists what was lifted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.backends.base import AwsBackend

LOG = logging.getLogger("stackprobe.lifecycle")

Lift = Callable[[AwsBackend, Mapping[str, Any], str], None]


def _rds_instance(backend: AwsBackend, attributes: Mapping[str, Any], region: str) -> None:
    backend.client("rds", region).modify_db_instance(
        DBInstanceIdentifier=attributes["identifier"], DeletionProtection=False, ApplyImmediately=True
    )


def _rds_cluster(backend: AwsBackend, attributes: Mapping[str, Any], region: str) -> None:
    backend.client("rds", region).modify_db_cluster(
        DBClusterIdentifier=attributes["cluster_identifier"], DeletionProtection=False, ApplyImmediately=True
    )


def _load_balancer(backend: AwsBackend, attributes: Mapping[str, Any], region: str) -> None:
    backend.client("elbv2", region).modify_load_balancer_attributes(
        LoadBalancerArn=attributes["arn"], Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )


def _dynamodb_table(backend: AwsBackend, attributes: Mapping[str, Any], region: str) -> None:
    backend.client("dynamodb", region).update_table(TableName=attributes["name"], DeletionProtectionEnabled=False)


def _instance(backend: AwsBackend, attributes: Mapping[str, Any], region: str) -> None:
    backend.client("ec2", region).modify_instance_attribute(
        InstanceId=attributes["id"], DisableApiTermination={"Value": False}
    )


@dataclass(frozen=True)
class Protection:
    """One attribute that stops or spoils a destroy: `lifted` is the value that lets it through; `lift`, when
    AWS enforces the attribute server-side, is the API call that changes it in the emulator first."""

    resource_type: str
    attribute: str
    lifted: Any
    why: str
    lift: Lift | None = None

    def blocks(self, attributes: Mapping[str, Any]) -> bool:
        return self.attribute in attributes and attributes[self.attribute] != self.lifted


PROTECTIONS: tuple[Protection, ...] = (
    Protection("aws_db_instance", "deletion_protection", False, "RDS refuses to delete it", _rds_instance),
    Protection("aws_db_instance", "skip_final_snapshot", True, "a final snapshot would outlive the stack"),
    Protection("aws_db_instance", "delete_automated_backups", True, "its automated backups would outlive it"),
    Protection("aws_rds_cluster", "deletion_protection", False, "RDS refuses to delete it", _rds_cluster),
    Protection("aws_rds_cluster", "skip_final_snapshot", True, "a final snapshot would outlive the stack"),
    Protection("aws_lb", "enable_deletion_protection", False, "ELB refuses to delete it", _load_balancer),
    Protection("aws_alb", "enable_deletion_protection", False, "ELB refuses to delete it", _load_balancer),
    Protection("aws_dynamodb_table", "deletion_protection_enabled", False, "DynamoDB refuses", _dynamodb_table),
    Protection("aws_instance", "disable_api_termination", False, "EC2 refuses to terminate it", _instance),
    Protection("aws_s3_bucket", "force_destroy", True, "a bucket with objects cannot be deleted"),
    Protection("aws_ecr_repository", "force_delete", True, "a repository with images cannot be deleted"),
    Protection("aws_cloudwatch_log_group", "skip_destroy", False, "destroy would leave the group in place"),
    Protection("aws_secretsmanager_secret", "recovery_window_in_days", 0, "the secret would wait out its window"),
    Protection(
        "aws_elasticache_replication_group", "final_snapshot_identifier", None, "a final snapshot would outlive it"
    ),
)


def lift_protections(backend: AwsBackend, state_path: Path) -> list[str]:
    """Lift every protection the state at `state_path` holds (see the module docstring); what was lifted.

    Nothing is written when nothing blocks; the state's serial is raised when something is, as terraform
    does for every change it writes.
    """
    if not state_path.is_file():
        return []
    state = json.loads(state_path.read_text(encoding="utf-8"))
    lifted: list[str] = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        protections = [p for p in PROTECTIONS if p.resource_type == resource.get("type")]
        for instance in resource.get("instances", []) if protections else []:
            attributes = instance.get("attributes") or {}
            for protection in (p for p in protections if p.blocks(attributes)):
                if protection.lift is not None:
                    protection.lift(backend, attributes, _region(attributes, backend.region))
                attributes[protection.attribute] = protection.lifted
                lifted.append(f"{_address(resource, instance)}: {protection.attribute} ({protection.why})")
    if lifted:
        state["serial"] = int(state.get("serial", 0)) + 1
        staging = state_path.with_name(state_path.name + ".stackprobe.tmp")
        staging.write_text(json.dumps(state, indent=2), encoding="utf-8")
        staging.replace(state_path)
        LOG.info("lifted before destroy: %s", "; ".join(lifted))
    return lifted


def _region(attributes: Mapping[str, Any], default: str) -> str:
    arn = attributes.get("arn")
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[3] if len(parts) > 3 and parts[3] else default


def _address(resource: Mapping[str, Any], instance: Mapping[str, Any]) -> str:
    prefix = f"{resource['module']}." if resource.get("module") else ""
    key = instance.get("index_key")
    suffix = "" if key is None else f"[{json.dumps(key)}]"
    return f"{prefix}{resource['type']}.{resource['name']}{suffix}"
