"""RDS: a unique DbiResourceId per DB instance, and read replicas that are instances of their own.

moto 5.2 gives every DB instance the same hard-coded `DbiResourceId`. Since provider 5.0 the id of an
`aws_db_instance` *is* that resource id, and the provider finds the instance with the `dbi-resource-id`
filter, so a second instance (or a read replica) matches two instances and its create never finishes.
moto also builds a read replica as a shallow copy of its primary: the copy shares the primary's resource
id, tags and mutable lists (log exports, security groups), so modifying one changes the other. In AWS a
replica is an instance of its own: its own resource id, only the tags (and Performance Insights setting)
it was created with, and it reads back `ReadReplicaSourceDBInstanceIdentifier` (the provider's
`replicate_source_db`).
"""

from __future__ import annotations

import copy
import string
from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.rds.models import DBInstance, RDSBackend


def new_dbi_resource_id() -> str:
    from moto.moto_api._internal import mock_random

    # The AWS format: "db-" and 26 upper-case base32 characters.
    alphabet = string.ascii_uppercase + "234567"
    return "db-" + "".join(mock_random.choice(alphabet) for _ in range(26))


def _detach_from_primary(replica: DBInstance) -> None:
    for key, value in list(vars(replica).items()):
        if isinstance(value, list | dict | set):
            setattr(replica, key, copy.copy(value))
    replica.dbi_resource_id = new_dbi_resource_id()
    replica.replicas = []
    # Per-instance settings a replica does not inherit: only what its own request sets.
    replica.tags = []
    for key in [k for k in vars(replica) if k.startswith("performance_insights_")]:
        delattr(replica, key)


def _create_db_instance_read_replica(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
    # moto's own body, with the copy detached from the primary before the request's values are applied.
    database_id = db_kwargs["db_instance_identifier"]
    source_database_id = db_kwargs["source_db_instance_identifier"]
    primary = self.find_db_from_id(source_database_id)
    if self.arn_regex.match(source_database_id):
        db_kwargs["backend"] = self
    replica = copy.copy(primary)
    _detach_from_primary(replica)
    replica.update(**db_kwargs)
    replica.set_as_replica()
    self.databases[database_id] = replica
    primary.add_replica(replica)
    return replica


def _apply() -> None:
    from moto.rds.models import DBInstance, RDSBackend

    original_init = DBInstance.__init__

    def __init__(self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.dbi_resource_id = new_dbi_resource_id()

    replace(DBInstance, "__init__", __init__)
    replace(RDSBackend, "create_db_instance_read_replica", _create_db_instance_read_replica)


def create_instance(moto: MotoEndpoint, identifier: str, **extra: Any) -> dict[str, Any]:
    """A small PostgreSQL instance, as the RDS canaries create it."""
    answer = moto.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="canary-password",
        **extra,
    )
    return dict(answer["DBInstance"])


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """Two instances, then an untagged read replica of the first (which is tagged), read back."""
    rds = moto.client("rds")
    primary = create_instance(moto, "canary-primary", Tags=[{"Key": "role", "Value": "primary"}])
    other = create_instance(moto, "canary-other")
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="canary-replica", SourceDBInstanceIdentifier="canary-primary"
    )
    replica = rds.describe_db_instances(DBInstanceIdentifier="canary-replica")["DBInstances"][0]
    ids = (primary["DbiResourceId"], other["DbiResourceId"], replica["DbiResourceId"])
    return [
        Symptom(
            "two DB instances share one DbiResourceId",
            ids[0] == ids[1],
            f"DbiResourceId of two instances: {ids[0]}, {ids[1]}",
        ),
        Symptom(
            "a read replica shares its primary's DbiResourceId",
            ids[2] == ids[0],
            f"DbiResourceId of primary and replica: {ids[0]}, {ids[2]}",
        ),
        Symptom(
            "a read replica created without tags reads back its primary's",
            {"Key": "role", "Value": "primary"} in replica.get("TagList", []),
            f"replica TagList={replica.get('TagList')}",
        ),
    ]


PATCH = MotoPatch(
    name="rds-instance-identity",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_db_instance",),
    gap="Every DB instance gets the same DbiResourceId, so the provider's lookup by resource id matches "
    "two instances once a second instance or a read replica exists; a replica is a shallow copy that shares "
    "its primary's resource id, tags and lists.",
    fix="Gives each DB instance its own DbiResourceId, and builds a read replica as a detached copy with its "
    "own resource id and only the tags it was created with (ReadReplicaSourceDBInstanceIdentifier is kept).",
    install=_apply,
    canary=reproduce,
)
