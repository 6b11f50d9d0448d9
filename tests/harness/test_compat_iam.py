"""IAM's AWS-managed policies: loaded once per process and only where used, yet still what moto builds.

The patch is a speed fix, so these tests pin the two things it must not change: the policies a backend
holds (compared field by field with moto's own `from_data`), and the account an access key resolves to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam import models as iam_models
from moto.iam.aws_managed_policies import aws_managed_policies_data

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.moto import EmbeddedMoto

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("iam-managed-policies-load",)
TASK_EXECUTION = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


@pytest.fixture(scope="module")
def moto() -> Iterator[EmbeddedMoto]:
    server = EmbeddedMoto()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def backend(moto: EmbeddedMoto) -> AwsBackend:
    moto.reset()
    assert moto.backend is not None
    return moto.backend


def _existing_partitions(account_id: str) -> set[str]:
    account = dict.get(iam_models.iam_backends, account_id)
    return set(dict.keys(account)) if account is not None else set()


def test_a_request_after_reset_creates_iam_only_in_the_partition_it_uses(backend: AwsBackend) -> None:
    """Unpatched, the account lookup of any request created an IAM backend in all six partitions."""
    backend.client("s3").list_buckets()
    backend.client("iam").list_roles()

    assert _existing_partitions(DEFAULT_ACCOUNT_ID) == {"aws"}


def test_every_managed_policy_is_what_moto_itself_builds(backend: AwsBackend) -> None:
    backend.client("iam").list_roles()
    iam = iam_models.iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    expected = {
        policy.arn: policy
        for policy in (
            iam_models.AWSManagedPolicy.from_data(name, DEFAULT_ACCOUNT_ID, "aws", data)
            for name, data in json.loads(aws_managed_policies_data).items()
        )
    }

    def fields(policy: iam_models.ManagedPolicy) -> tuple[object, ...]:
        return (
            policy.name,
            policy.path,
            policy.default_version_id,
            policy.create_date,
            policy.update_date,
            policy.versions[0].document,
            policy.account_id,
            policy.partition,
        )

    held = {arn: p for arn, p in iam.managed_policies.items() if ":iam::aws:policy" in arn}
    assert held.keys() == expected.keys()
    assert [arn for arn in held if fields(held[arn]) != fields(expected[arn])] == []


def test_managed_policies_are_separate_objects_per_account(moto: EmbeddedMoto) -> None:
    """Parsed once, built per backend: an attachment in one account must not show in another."""
    moto.reset()
    default = iam_models.iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    other = iam_models.iam_backends["210987654321"]["aws"]

    assert default.managed_policies[TASK_EXECUTION] is not other.managed_policies[TASK_EXECUTION]


def test_a_managed_policy_still_attaches(backend: AwsBackend) -> None:
    iam = backend.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}
        ],
    }
    iam.create_role(RoleName="compat-exec", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName="compat-exec", PolicyArn=TASK_EXECUTION)

    attached = iam.list_attached_role_policies(RoleName="compat-exec")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [TASK_EXECUTION]
    assert iam.get_policy(PolicyArn=TASK_EXECUTION)["Policy"]["AttachmentCount"] == 1


def test_an_access_key_still_resolves_to_its_account(moto: EmbeddedMoto) -> None:
    moto.reset()
    other = iam_models.iam_backends["210987654321"]["aws"]
    other.create_user(region_name="us-east-1", user_name="compat-user")
    key = other.create_access_key("compat-user").access_key_id

    assert iam_models.get_account_id_from(key) == "210987654321"
    assert iam_models.get_account_id_from("no-such-access-key") == DEFAULT_ACCOUNT_ID
