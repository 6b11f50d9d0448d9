"""RDS: the secret RDS makes for a managed master password names the master user, as in AWS.

With `ManageMasterUserPassword`, RDS creates a Secrets Manager secret `{"username": <MasterUsername>,
"password": <generated>}` (RDS User Guide, "Password management with Amazon RDS and AWS Secrets Manager"), and
task definitions inject both fields (`valueFrom = "<secret arn>:username::"`). moto 5.2 writes
`{"username": "admin", "password": "P@55w0rd!"}` whatever the master user is, so a container given the secret
logs in as a user the database does not have: against a real server behind the endpoint (stackprobe's
`--datastore`), every connection fails where AWS's would succeed. The patch writes the instance's (or cluster's)
master username and a generated password, as RDS does.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from stackprobe.backends.compat._canary import error_of
from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


def _apply() -> None:
    from moto.rds.models import MasterUserSecret

    def _generate_secret_string(self: Any) -> str:
        username = str(getattr(self.resource, "master_username", "") or "admin")
        return json.dumps({"username": username, "password": secrets.token_urlsafe(24)})

    replace(MasterUserSecret, "_generate_secret_string", _generate_secret_string)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A PostgreSQL instance with a managed master password, master user `canary_master`: its secret's username."""
    rds = moto.client("rds")
    created: dict[str, Any] = {}
    error = error_of(
        lambda: created.update(
            rds.create_db_instance(
                DBInstanceIdentifier="canary-managed-secret",
                DBInstanceClass="db.t3.micro",
                Engine="postgres",
                AllocatedStorage=20,
                MasterUsername="canary_master",
                ManageMasterUserPassword=True,
            )["DBInstance"]
        )
    )
    arn = str((created.get("MasterUserSecret") or {}).get("SecretArn") or "")
    username = ""
    if error is None and arn:
        secret = moto.client("secretsmanager").get_secret_value(SecretId=arn)
        username = str(json.loads(secret["SecretString"]).get("username"))
    return [
        Symptom(
            "the managed master secret names another user than the master",
            error is None and username != "canary_master",
            error or f"the secret's username is {username!r}, the master is 'canary_master'",
        )
    ]


PATCH = MotoPatch(
    name="rds-managed-secret-username",
    kind=GapKind.FAKED,
    resource_types=("aws_db_instance", "aws_rds_cluster"),
    gap="The secret made for ManageMasterUserPassword holds username 'admin' and a fixed password whatever the master "
    "user is, so a container given it logs in to a real database behind the endpoint as a user that does not exist.",
    fix="Writes the instance's or cluster's master username and a generated password into the secret, as RDS does.",
    install=_apply,
    canary=reproduce,
)
