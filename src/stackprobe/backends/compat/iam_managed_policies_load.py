"""IAM: AWS-managed policies are parsed once per process, and only for partitions something uses.

The harness turns on moto's AWS-managed policies (`MOTO_IAM_LOAD_MANAGED_POLICIES`) because the stack
attaches some. moto 5.2 builds them for each IAM backend from a 1,500-policy JSON string, parsing it
again every time. Two moto habits multiply that: every request resolves its account with
`get_account_id_from`, which reads `iam_backends[account][partition]` for all six partitions and so
creates (and loads) an IAM backend in each; and `/moto-api/reset` re-initialises every existing backend
before discarding it. A reset followed by one request therefore parsed the policies twelve times, about
5 s of CPU, and the suite resets the emulator dozens of times.

The fix keeps moto's behaviour and only removes repeated work: the parsed policies are kept for the
process (each backend still gets its own policy objects, so attachment counts stay per account), and
the account lookup reads the IAM backends that exist instead of creating the missing ones (a backend
that does not exist holds no access key, so the answer is the same).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from stackprobe.backends.compat._monkey import ShapeMismatch, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


@cache
def _policy_arguments() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(name, constructor arguments) of every AWS-managed policy; what `AWSManagedPolicy.from_data` derives."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    parsed: dict[str, dict[str, Any]] = json.loads(aws_managed_policies_data)
    return tuple(
        (
            name,
            {
                "default_version_id": data.get("DefaultVersionId"),
                "path": data.get("Path"),
                "document": json.dumps(data.get("Document")),
                "create_date": datetime.fromisoformat(data["CreateDate"]),
                "update_date": datetime.fromisoformat(data["UpdateDate"]),
            },
        )
        for name, data in parsed.items()
    )


def _apply() -> None:
    from moto import settings
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models as iam_models
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, IAMBackend
    from moto.utilities.utils import PARTITION_NAMES

    # Checked now, not at the first request that loads the policies; parsed only then (about 0.4 s).
    if not isinstance(aws_managed_policies_data, str):
        raise ShapeMismatch("moto.iam.aws_managed_policies.aws_managed_policies_data is no longer a JSON string")
    # moto's CloudFormation base leaves hooks abstract that AWSManagedPolicy never needs; moto builds it the same way.
    aws_managed_policy: Any = AWSManagedPolicy

    def _init_aws_policies(self: Any) -> list[Any]:
        if not settings.load_iam_aws_managed_policies():
            return []
        return [
            aws_managed_policy(name, account_id=self.account_id, region=self.region_name, **arguments)
            for name, arguments in _policy_arguments()
        ]

    def get_account_id_from(access_key: str) -> str:
        # dict.get, not [ ]: moto's backend dicts create a backend on a missing key.
        for account_id, account in list(iam_models.iam_backends.items()):
            for partition in PARTITION_NAMES:
                backend = dict.get(account, partition)
                if backend is not None and access_key in backend.access_keys:
                    return account_id
        return DEFAULT_ACCOUNT_ID

    replace(IAMBackend, "_init_aws_policies", _init_aws_policies)
    # moto.core.responses imports it at call time, so replacing the module attribute reaches every request.
    replace(iam_models, "get_account_id_from", get_account_id_from)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """An IAM request (the account's IAM backend exists from then on), one S3 request, then the partitions
    that have an IAM backend.

    Not through boto3 alone: the canary looks into the moto running in its own process. The re-parsing
    of the managed policies per backend shows only as CPU time, which no test asserts, so the canary
    reproduces the fan-out that multiplies it (with managed policies off, which keeps it cheap).
    """
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models as iam_models

    moto.client("iam").list_roles()
    moto.client("s3").list_buckets()
    account = dict.get(iam_models.iam_backends, DEFAULT_ACCOUNT_ID)
    partitions = sorted(dict.keys(account)) if account is not None else []
    return [
        Symptom(
            "one request creates an IAM backend in every partition",
            len(partitions) > 1,
            f"partitions with an IAM backend after one IAM and one S3 request: {partitions}",
        )
    ]


PATCH = MotoPatch(
    name="iam-managed-policies-load",
    kind=GapKind.SLOW,
    resource_types=("aws_iam_role_policy_attachment",),
    gap="Every IAM backend re-parses the 1,500 AWS-managed policies, and each request creates an IAM "
    "backend in all six partitions, so a reset plus one request costs about 5 s of CPU.",
    fix="Parses the policies once per process and resolves the account from the IAM backends that exist.",
    install=_apply,
    canary=reproduce,
)
