"""AWS Backup selections: create, read back (the provider's GetBackupSelection), list and delete."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("backup-selections", "backup-list-tags-path")

ROLE = "arn:aws:iam::123456789012:role/backup"


def _plan(backend: AwsBackend, name: str) -> str:
    backup = backend.client("backup")
    backup.create_backup_vault(BackupVaultName=f"{name}-vault")
    plan = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": name,
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": f"{name}-vault"}],
        }
    )
    return str(plan["BackupPlanId"])


def test_selection_reads_back_as_created(backend: AwsBackend) -> None:
    backup = backend.client("backup")
    plan_id = _plan(backend, "compat-plan")
    selection = {
        "SelectionName": "tagged",
        "IamRoleArn": ROLE,
        "Resources": ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders"],
        "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "yes"}],
        "NotResources": [],
        "Conditions": {},
    }

    created = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=selection)
    read = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]

    assert created["BackupPlanId"] == plan_id
    assert read["SelectionId"] == created["SelectionId"]
    assert read["BackupSelection"]["SelectionName"] == "tagged"
    assert read["BackupSelection"]["IamRoleArn"] == ROLE
    assert read["BackupSelection"]["Resources"] == selection["Resources"]
    assert read["BackupSelection"]["ListOfTags"] == selection["ListOfTags"]
    assert [(s["SelectionId"], s["SelectionName"]) for s in listed] == [(created["SelectionId"], "tagged")]


def test_deleted_selection_is_not_found(backend: AwsBackend) -> None:
    backup = backend.client("backup")
    plan_id = _plan(backend, "compat-plan-delete")
    created = backup.create_backup_selection(
        BackupPlanId=plan_id, BackupSelection={"SelectionName": "all", "IamRoleArn": ROLE, "Resources": ["*"]}
    )

    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])

    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []


def test_selection_on_an_unknown_plan_is_refused(backend: AwsBackend) -> None:
    backup = backend.client("backup")

    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.create_backup_selection(
            BackupPlanId="no-such-plan", BackupSelection={"SelectionName": "x", "IamRoleArn": ROLE}
        )


def test_vault_tags_read_back_without_a_trailing_slash(backend: AwsBackend) -> None:
    backup = backend.client("backup")
    backup.create_backup_vault(BackupVaultName="compat-tagged", BackupVaultTags={"team": "probe"})
    arn = backup.describe_backup_vault(BackupVaultName="compat-tagged")["BackupVaultArn"]
    session = backend.session()
    credentials = session.get_credentials()
    assert credentials is not None

    # The path the Go SDK (and so the provider) sends: no trailing slash after the ARN.
    request = AWSRequest(method="GET", url=f"{backend.endpoint}/tags/{quote(arn, safe='')}")
    SigV4Auth(credentials, "backup", backend.region).add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(str(request.url), headers=dict(request.headers))) as answer:
        body = json.loads(answer.read())

    assert body["Tags"] == {"team": "probe"}
    assert backup.list_tags(ResourceArn=arn)["Tags"] == {"team": "probe"}
