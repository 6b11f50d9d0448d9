"""AWS Backup: backup selections (Create/Get/Delete/ListBackupSelections).

moto 5.2 implements backup plans and vaults but no selections: CreateBackupSelection answers 500
(NotImplementedError), which the provider retries until its timeout, so `aws_backup_selection` never
finishes. AWS keeps a selection under its plan, identified by a generated SelectionId, and returns the
BackupSelection document as it was given.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from stackprobe.backends.compat._canary import unimplemented
from stackprobe.backends.compat._monkey import add
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.backup.models import BackupBackend

_PATH = re.compile(r"/backup/plans/(?P<plan>[^/]+)/selections/?(?P<selection>[^/]*)")


@dataclass
class BackupSelectionRecord:
    selection_id: str
    backup_plan_id: str
    selection: dict[str, Any]
    creation_date: float
    creator_request_id: str | None

    def summary(self) -> dict[str, Any]:
        return {
            "SelectionId": self.selection_id,
            "SelectionName": self.selection.get("SelectionName"),
            "BackupPlanId": self.backup_plan_id,
            "CreationDate": self.creation_date,
            "CreatorRequestId": self.creator_request_id,
            "IamRoleArn": self.selection.get("IamRoleArn"),
        }


def selections_of(backend: BackupBackend, plan_id: str) -> dict[str, BackupSelectionRecord]:
    """The selections of one plan; raises ResourceNotFoundException, as AWS does, for an unknown plan."""
    backend.get_backup_plan(plan_id, None)
    # On the backend instance, so moto's reset empties them with the plans.
    store: dict[str, dict[str, BackupSelectionRecord]] = backend.__dict__.setdefault("stackprobe_selections", {})
    return store.setdefault(plan_id, {})


def _ids(response: Any) -> tuple[str, str]:
    from moto.backup.exceptions import ResourceNotFoundException

    match = _PATH.search(unquote(response.path))
    if match is None:
        raise ResourceNotFoundException(msg=f"Unrecognised backup selection path {response.path}")
    return match["plan"], match["selection"]


def _get_selection(response: Any) -> BackupSelectionRecord:
    from moto.backup.exceptions import ResourceNotFoundException

    plan_id, selection_id = _ids(response)
    record = selections_of(response.backup_backend, plan_id).get(selection_id)
    if record is None:
        raise ResourceNotFoundException(msg=f"Backup selection {selection_id} not found in plan {plan_id}")
    return record


def _create_backup_selection(self: Any) -> str:
    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random

    plan_id, _ = _ids(self)
    params = json.loads(self.body or "{}")
    record = BackupSelectionRecord(
        selection_id=str(mock_random.uuid4()),
        backup_plan_id=plan_id,
        selection=params.get("BackupSelection") or {},
        creation_date=unix_time(),
        creator_request_id=params.get("CreatorRequestId"),
    )
    selections_of(self.backup_backend, plan_id)[record.selection_id] = record
    return json.dumps(
        {"SelectionId": record.selection_id, "BackupPlanId": plan_id, "CreationDate": record.creation_date}
    )


def _get_backup_selection(self: Any) -> str:
    record = _get_selection(self)
    body = {k: v for k, v in record.summary().items() if v is not None and k not in ("SelectionName", "IamRoleArn")}
    body["BackupSelection"] = record.selection
    return json.dumps(body)


def _delete_backup_selection(self: Any) -> str:
    record = _get_selection(self)
    del selections_of(self.backup_backend, record.backup_plan_id)[record.selection_id]
    return "{}"


def _list_backup_selections(self: Any) -> str:
    plan_id, _ = _ids(self)
    records = selections_of(self.backup_backend, plan_id).values()
    listed = [{k: v for k, v in r.summary().items() if v is not None} for r in records]
    return json.dumps({"BackupSelectionsList": listed})


def _apply() -> None:
    from moto.backup.responses import BackupResponse

    add(BackupResponse, "create_backup_selection", _create_backup_selection)
    add(BackupResponse, "get_backup_selection", _get_backup_selection)
    add(BackupResponse, "delete_backup_selection", _delete_backup_selection)
    add(BackupResponse, "list_backup_selections", _list_backup_selections)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """CreateBackupSelection and ListBackupSelections on an existing plan."""
    backup = moto.client("backup")
    backup.create_backup_vault(BackupVaultName="canary-vault")
    plan_id = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "canary",
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "canary-vault"}],
        }
    )["BackupPlanId"]
    selection = {"SelectionName": "all", "IamRoleArn": "arn:aws:iam::123456789012:role/backup", "Resources": ["*"]}
    return [
        unimplemented(
            "CreateBackupSelection is not implemented",
            lambda: backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=selection),
        ),
        unimplemented(
            "ListBackupSelections is not implemented",
            lambda: backup.list_backup_selections(BackupPlanId=plan_id),
        ),
    ]


PATCH = MotoPatch(
    name="backup-selections",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_backup_selection",),
    gap="Backup selections are not implemented: CreateBackupSelection answers 500, which the provider "
    "retries until it times out.",
    fix="Implements CreateBackupSelection, GetBackupSelection, DeleteBackupSelection and "
    "ListBackupSelections, keeping each selection under its (existing) plan.",
    install=_apply,
    canary=reproduce,
)
