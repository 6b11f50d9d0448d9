"""RDS: the emulator refuses a read replica of a primary whose master password RDS manages, as AWS does.

AWS's answer, quoted by the patch: `InvalidParameterValue: Creating read replicas for source instance
with engine mysql where ManageMasterUserPassword is enabled is not supported.` Replicas of a primary whose
password the stack manages itself are created as before.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("rds-replica-managed-password",)

_names = (f"compat-replica-{n}" for n in itertools.count())


def _primary(backend: AwsBackend, engine: str, **password: Any) -> str:
    identifier = next(_names)
    backend.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t3.micro",
        Engine=engine,
        AllocatedStorage=20,
        MasterUsername="admin_user",
        **password,
    )
    return identifier


def _replica_of(backend: AwsBackend, source: str, identifier: str | None = None) -> dict[str, Any]:
    answer = backend.client("rds").create_db_instance_read_replica(
        DBInstanceIdentifier=identifier or next(_names), SourceDBInstanceIdentifier=source
    )
    return dict(answer["DBInstance"])


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_a_replica_of_a_primary_with_a_managed_password_is_refused_with_awss_error(
    backend: AwsBackend, engine: str
) -> None:
    primary = _primary(backend, engine, ManageMasterUserPassword=True)
    replica = next(_names)

    with pytest.raises(ClientError) as refused:
        _replica_of(backend, primary, replica)

    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue"
    assert error["Message"] == (
        f"Creating read replicas for source instance with engine {engine} where ManageMasterUserPassword is "
        "enabled is not supported."
    )
    names = [d["DBInstanceIdentifier"] for d in backend.client("rds").describe_db_instances()["DBInstances"]]
    assert primary in names and replica not in names


def test_the_source_is_also_found_by_its_arn(backend: AwsBackend) -> None:
    primary = _primary(backend, "mysql", ManageMasterUserPassword=True)
    arn = backend.client("rds").describe_db_instances(DBInstanceIdentifier=primary)["DBInstances"][0]["DBInstanceArn"]

    with pytest.raises(ClientError, match="ManageMasterUserPassword is enabled is not supported"):
        _replica_of(backend, arn)


def test_a_replica_of_a_primary_with_its_own_password_is_created(backend: AwsBackend) -> None:
    primary = _primary(backend, "mysql", MasterUserPassword="a-password-the-stack-keeps")

    replica = _replica_of(backend, primary)

    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == primary


def test_turning_management_on_later_refuses_the_next_replica(backend: AwsBackend) -> None:
    primary = _primary(backend, "postgres", MasterUserPassword="a-password-the-stack-keeps")
    _replica_of(backend, primary)
    backend.client("rds").modify_db_instance(
        DBInstanceIdentifier=primary, ManageMasterUserPassword=True, ApplyImmediately=True
    )

    with pytest.raises(ClientError, match="InvalidParameterValue"):
        _replica_of(backend, primary)
