"""RDS: a read replica of a primary whose master password RDS manages is refused, as in AWS.

The RDS User Guide ("Password management with Amazon RDS and AWS Secrets Manager", Limitations) lists
"creating a read replica when the source DB instance manages credentials with Secrets Manager" as
unsupported for every engine except SQL Server, and CreateDBInstanceReadReplica answers
`InvalidParameterValue: Creating read replicas for source instance with engine mysql where
ManageMasterUserPassword is enabled is not supported.` moto 5.2 creates the replica anyway, so a stack
that combines `manage_master_user_password = true` with `replicate_source_db` applied cleanly on the
emulator and failed on its first real apply. This patch is strictness, not a repair: it makes moto
refuse what AWS refuses, with AWS's error, so the apply fails where it would fail in AWS.

It wraps the response handler, not the backend method the `rds-instance-identity` patch replaces, so
the two patches do not depend on each other's install order.
"""

from __future__ import annotations

from typing import Any

from stackprobe.backends.compat._canary import error_of
from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

# Engines whose replicas AWS allows of a primary with a managed master password (RDS for SQL Server).
ALLOWED_ENGINE_PREFIX = "sqlserver"


def refusal(engine: str) -> str:
    """AWS's message for the refused replica (the provider shows it verbatim)."""
    return (
        f"Creating read replicas for source instance with engine {engine} where ManageMasterUserPassword "
        "is enabled is not supported."
    )


def _apply() -> None:
    from moto.rds.exceptions import InvalidParameterValue
    from moto.rds.responses import RDSResponse

    original = RDSResponse.create_db_instance_read_replica

    def create_db_instance_read_replica(self: Any) -> Any:
        source_id = self.params.get("source_db_instance_identifier")
        if source_id:
            # By identifier or ARN, as moto's own handler finds it (an unknown source fails the same way).
            source = self.backend.find_db_from_id(source_id)
            engine = str(getattr(source, "engine", "") or "")
            if getattr(source, "manage_master_user_password", False) and not engine.startswith(ALLOWED_ENGINE_PREFIX):
                raise InvalidParameterValue(refusal(engine))
        return original(self)

    replace(RDSResponse, "create_db_instance_read_replica", create_db_instance_read_replica)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A MySQL primary with ManageMasterUserPassword, then a read replica of it."""
    rds = moto.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="canary-managed",
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        ManageMasterUserPassword=True,
    )
    error = error_of(
        lambda: rds.create_db_instance_read_replica(
            DBInstanceIdentifier="canary-managed-replica", SourceDBInstanceIdentifier="canary-managed"
        )
    )
    return [
        Symptom(
            "a read replica of a primary whose master password RDS manages is created",
            error is None,
            error or "CreateDBInstanceReadReplica answered with the new replica",
        )
    ]


PATCH = MotoPatch(
    name="rds-replica-managed-password",
    kind=GapKind.FAKED,
    resource_types=("aws_db_instance",),
    gap="CreateDBInstanceReadReplica succeeds when the source instance has ManageMasterUserPassword on; AWS "
    "refuses it for every engine but SQL Server, so the stack's first real apply fails where the emulator's passed.",
    fix="Refuses the replica with AWS's InvalidParameterValue error (SQL Server sources excepted), so the apply "
    "fails on the emulator as it does on AWS.",
    install=_apply,
    canary=reproduce,
)
