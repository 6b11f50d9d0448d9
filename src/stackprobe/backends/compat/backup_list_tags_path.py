"""AWS Backup: ListTags finds the resource whether or not its path ends with a slash.

The Backup API documents `GET /tags/{ResourceArn}/`, and moto 5.2 takes the ARN from the second-to-last
path segment. The Go SDK the provider uses sends `GET /tags/{ResourceArn}` without the trailing slash, so
moto looks up the tags of a resource named "tags" and answers none: every tagged `aws_backup_vault` (and
`aws_backup_plan`) reads back without its tags and re-plans them on every plan. AWS accepts both forms.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


def resource_arn_from_path(path: str) -> str:
    return unquote(path.split("/tags/", 1)[1].split("?", 1)[0].rstrip("/"))


def _list_tags(self: Any) -> str:
    tags = self.backup_backend.list_tags(resource_arn=resource_arn_from_path(self.path))
    return json.dumps({"Tags": tags})


def _apply() -> None:
    from moto.backup.responses import BackupResponse

    replace(BackupResponse, "list_tags", _list_tags)


def _without_trailing_slash(request: Any, **_: Any) -> None:
    request.url = request.url.replace("/?", "?").rstrip("/")


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """ListTags of a tagged vault, sent as the Go SDK sends it: no slash after the ARN.

    boto3 sends the documented path (with the slash), so the canary's client strips it before signing.
    """
    backup = moto.client("backup")
    backup.create_backup_vault(BackupVaultName="canary-tagged", BackupVaultTags={"team": "canary"})
    arn = backup.describe_backup_vault(BackupVaultName="canary-tagged")["BackupVaultArn"]
    backup.meta.events.register("before-sign.backup.ListTags", _without_trailing_slash)
    try:
        tags = backup.list_tags(ResourceArn=arn).get("Tags")
    finally:
        backup.meta.events.unregister("before-sign.backup.ListTags", _without_trailing_slash)
    return [
        Symptom(
            "ListTags without a trailing slash does not find the vault's tags",
            tags != {"team": "canary"},
            f"GET /tags/{{arn}} answered Tags={tags!r}",
        )
    ]


PATCH = MotoPatch(
    name="backup-list-tags-path",
    kind=GapKind.DRIFT,
    resource_types=("aws_backup_vault", "aws_backup_plan"),
    gap="ListTags reads the ARN from the wrong path segment when the path has no trailing slash (as the Go "
    "SDK sends it), so tags read back empty and drift on every plan.",
    fix="Takes the ARN from everything after /tags/, with or without a trailing slash.",
    install=_apply,
    canary=reproduce,
    # moto 5.2.6 stores and reads back what the canary checks (seen by the canary on 5.2.6).
    fixed_in="5.2.6",
)
