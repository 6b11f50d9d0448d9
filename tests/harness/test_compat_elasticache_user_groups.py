"""ElastiCache: user groups exist, obey AWS's rules, and a replication group reports the ones it uses.

What the reference stack's cache module applies (terraform/modules/cache/main.tf): a user group of the
application's IAM-authenticated user and a `default` user that is switched off, named by the replication
group's `user_group_ids`. Every test starts with CreateUserGroup, which moto answers 500 without the patch.
Ids are unique per test: moto's state is per process, shared by the xdist worker's tests.

Reproduce: .venv/bin/pytest tests/harness/test_compat_elasticache_user_groups.py -q -n 0 -p no:cacheprovider
"""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("elasticache-user-groups",)


@pytest.fixture(scope="module")
def elasticache(backend: AwsBackend) -> Any:
    return backend.client("elasticache")


def _users(elasticache: Any, prefix: str) -> tuple[str, str]:
    """The stack's two users: `default` switched off, and the application's, who logs in with IAM."""
    elasticache.create_user(
        UserId=f"{prefix}-default",
        UserName="default",
        Engine="REDIS",
        AccessString="off -@all",
        NoPasswordRequired=True,
    )
    elasticache.create_user(
        UserId=f"{prefix}-app",
        UserName=f"{prefix}-app",
        Engine="REDIS",
        AccessString="on ~* +@all -@dangerous",
        AuthenticationMode={"Type": "iam"},
    )
    return f"{prefix}-default", f"{prefix}-app"


def _group(elasticache: Any, prefix: str, **extra: Any) -> dict[str, Any]:
    default, app = _users(elasticache, prefix)
    # As the provider sends it: the engine as configured ("REDIS"), the tags with the create.
    answer: dict[str, Any] = elasticache.create_user_group(
        UserGroupId=prefix, Engine="REDIS", UserIds=[default, app], **extra
    )
    return answer


def _replication_group(elasticache: Any, group_id: str, **extra: Any) -> dict[str, Any]:
    answer = elasticache.create_replication_group(
        ReplicationGroupId=group_id,
        ReplicationGroupDescription="compat",
        Engine="redis",
        CacheNodeType="cache.t4g.micro",
        NumCacheClusters=2,
        TransitEncryptionEnabled=True,
        **extra,
    )
    return dict(answer["ReplicationGroup"])


def _code(error: pytest.ExceptionInfo[Any]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_user_group_is_active_at_once_and_reads_back_as_the_provider_reads_it(elasticache: Any) -> None:
    created = _group(elasticache, "ug-read", Tags=[{"Key": "Service", "Value": "cache"}])

    # The provider waits for "active" with DescribeUserGroups, then reads id, engine, users and tags.
    described = elasticache.describe_user_groups(UserGroupId="ug-read")["UserGroups"]
    assert [g["UserGroupId"] for g in described] == ["ug-read"]
    group = described[0]
    assert created["Status"] == group["Status"] == "active"
    assert group["Engine"] == "redis"  # the provider compares it case-insensitively with "REDIS"
    assert sorted(group["UserIds"]) == ["ug-read-app", "ug-read-default"]
    assert group["ARN"] == created["ARN"] and group["ARN"].endswith(":usergroup:ug-read")
    assert group["ReplicationGroups"] == []
    tags = elasticache.list_tags_for_resource(ResourceName=group["ARN"])["TagList"]
    assert tags == [{"Key": "Service", "Value": "cache"}]
    # DescribeUsers names the groups a user is in.
    assert elasticache.describe_users(UserId="ug-read-app")["Users"][0]["UserGroupIds"] == ["ug-read"]


def test_a_redis_group_without_a_user_named_default_is_refused(elasticache: Any) -> None:
    _, app = _users(elasticache, "ug-nodefault")

    with pytest.raises(elasticache.exceptions.DefaultUserRequired):
        elasticache.create_user_group(UserGroupId="ug-nodefault", Engine="redis", UserIds=[app])

    with pytest.raises(elasticache.exceptions.UserGroupNotFoundFault):
        elasticache.describe_user_groups(UserGroupId="ug-nodefault")


def test_a_group_of_a_user_that_does_not_exist_is_refused(elasticache: Any) -> None:
    default, _ = _users(elasticache, "ug-nouser")

    with pytest.raises(elasticache.exceptions.UserNotFoundFault):
        elasticache.create_user_group(UserGroupId="ug-nouser", Engine="redis", UserIds=[default, "ug-nobody"])

    with pytest.raises(elasticache.exceptions.UserGroupNotFoundFault):
        elasticache.describe_user_groups(UserGroupId="ug-nouser")


def test_a_second_group_with_the_same_id_is_refused(elasticache: Any) -> None:
    _group(elasticache, "ug-twice")

    with pytest.raises(elasticache.exceptions.UserGroupAlreadyExistsFault):
        elasticache.create_user_group(UserGroupId="ug-twice", Engine="redis", UserIds=["ug-twice-default"])

    assert elasticache.describe_user_groups(UserGroupId="ug-twice")["UserGroups"][0]["UserIds"] != ["ug-twice-default"]


def test_two_users_of_the_same_name_in_one_group_are_refused(elasticache: Any) -> None:
    # moto's built-in user "default" and the stack's own are both named default.
    default, _ = _users(elasticache, "ug-dup")

    with pytest.raises(elasticache.exceptions.DuplicateUserNameFault):
        elasticache.create_user_group(UserGroupId="ug-dup", Engine="redis", UserIds=["default", default])


def test_modify_adds_and_removes_users_and_keeps_a_default_user(elasticache: Any) -> None:
    _group(elasticache, "ug-modify")
    elasticache.create_user(
        UserId="ug-modify-ops",
        UserName="ug-modify-ops",
        Engine="redis",
        AccessString="on ~* +@read",
        Passwords=["p" * 16],
    )

    # The provider's update: the set difference of user_ids, as UserIdsToAdd and UserIdsToRemove.
    modified = elasticache.modify_user_group(
        UserGroupId="ug-modify", UserIdsToAdd=["ug-modify-ops"], UserIdsToRemove=["ug-modify-app"]
    )
    assert modified["Status"] == "active"
    assert sorted(modified["UserIds"]) == ["ug-modify-default", "ug-modify-ops"]
    assert elasticache.describe_users(UserId="ug-modify-app")["Users"][0]["UserGroupIds"] == []

    with pytest.raises(elasticache.exceptions.DefaultUserRequired):
        elasticache.modify_user_group(UserGroupId="ug-modify", UserIdsToRemove=["ug-modify-default"])
    with pytest.raises(elasticache.exceptions.UserNotFoundFault):
        elasticache.modify_user_group(UserGroupId="ug-modify", UserIdsToAdd=["ug-modify-nobody"])
    with pytest.raises(elasticache.exceptions.UserGroupNotFoundFault):
        elasticache.modify_user_group(UserGroupId="ug-modify-missing", UserIdsToAdd=["ug-modify-app"])

    # A refused change changes nothing.
    group = elasticache.describe_user_groups(UserGroupId="ug-modify")["UserGroups"][0]
    assert sorted(group["UserIds"]) == ["ug-modify-default", "ug-modify-ops"]


def test_a_replication_group_reports_its_user_groups_on_create_and_after_modify(elasticache: Any) -> None:
    _group(elasticache, "ug-rg")

    created = _replication_group(elasticache, "ug-rg-cache", UserGroupIds=["ug-rg"])

    assert created["UserGroupIds"] == ["ug-rg"]
    # The provider reads user_group_ids back from DescribeReplicationGroups.
    described = elasticache.describe_replication_groups(ReplicationGroupId="ug-rg-cache")["ReplicationGroups"][0]
    assert described["UserGroupIds"] == ["ug-rg"]
    group = elasticache.describe_user_groups(UserGroupId="ug-rg")["UserGroups"][0]
    assert group["ReplicationGroups"] == ["ug-rg-cache"]

    removed = elasticache.modify_replication_group(
        ReplicationGroupId="ug-rg-cache", UserGroupIdsToRemove=["ug-rg"], ApplyImmediately=True
    )["ReplicationGroup"]
    assert removed.get("UserGroupIds", []) == []
    assert elasticache.describe_user_groups(UserGroupId="ug-rg")["UserGroups"][0]["ReplicationGroups"] == []

    elasticache.modify_replication_group(
        ReplicationGroupId="ug-rg-cache", UserGroupIdsToAdd=["ug-rg"], ApplyImmediately=True
    )
    described = elasticache.describe_replication_groups(ReplicationGroupId="ug-rg-cache")["ReplicationGroups"][0]
    assert described["UserGroupIds"] == ["ug-rg"]


def test_a_replication_group_cannot_name_a_user_group_that_does_not_exist(elasticache: Any) -> None:
    with pytest.raises(elasticache.exceptions.UserGroupNotFoundFault):
        _replication_group(elasticache, "ug-unknown-cache", UserGroupIds=["ug-unknown"])
    with pytest.raises(elasticache.exceptions.ReplicationGroupNotFoundFault):
        elasticache.describe_replication_groups(ReplicationGroupId="ug-unknown-cache")

    _replication_group(elasticache, "ug-unknown-cache")
    with pytest.raises(elasticache.exceptions.UserGroupNotFoundFault):
        elasticache.modify_replication_group(
            ReplicationGroupId="ug-unknown-cache",
            UserGroupIdsToAdd=["ug-unknown"],
            ReplicationGroupDescription="changed",
            ApplyImmediately=True,
        )
    described = elasticache.describe_replication_groups(ReplicationGroupId="ug-unknown-cache")["ReplicationGroups"][0]
    assert described.get("UserGroupIds", []) == []
    assert described["Description"] == "compat"  # the refused modification changed nothing


def test_a_group_in_use_is_refused_deletion_until_its_replication_group_is_gone(elasticache: Any) -> None:
    """As the provider destroys: the replication group first, then the user group, then the users."""
    arn = _group(elasticache, "ug-delete", Tags=[{"Key": "Service", "Value": "cache"}])["ARN"]
    _replication_group(elasticache, "ug-delete-cache", UserGroupIds=["ug-delete"])

    with pytest.raises(elasticache.exceptions.InvalidUserGroupStateFault):
        elasticache.delete_user_group(UserGroupId="ug-delete")

    elasticache.delete_replication_group(ReplicationGroupId="ug-delete-cache")
    deleted = elasticache.delete_user_group(UserGroupId="ug-delete")

    assert deleted["Status"] == "deleting"
    # The provider waits for UserGroupNotFound.
    with pytest.raises(elasticache.exceptions.UserGroupNotFoundFault):
        elasticache.describe_user_groups(UserGroupId="ug-delete")
    with pytest.raises(elasticache.exceptions.UserGroupNotFoundFault):
        elasticache.delete_user_group(UserGroupId="ug-delete")
    with pytest.raises(elasticache.exceptions.UserGroupNotFoundFault):
        elasticache.list_tags_for_resource(ResourceName=arn)
    assert elasticache.describe_users(UserId="ug-delete-default")["Users"][0]["UserGroupIds"] == []
    elasticache.delete_user(UserId="ug-delete-default")
    elasticache.delete_user(UserId="ug-delete-app")


def test_a_deleted_user_leaves_its_groups_but_a_group_keeps_its_default_user(elasticache: Any) -> None:
    _group(elasticache, "ug-userdel")

    elasticache.delete_user(UserId="ug-userdel-app")

    group = elasticache.describe_user_groups(UserGroupId="ug-userdel")["UserGroups"][0]
    assert group["UserIds"] == ["ug-userdel-default"]
    with pytest.raises(elasticache.exceptions.ClientError) as refused:
        elasticache.delete_user(UserId="ug-userdel-default")
    assert _code(refused) == "DefaultUserAssociatedToUserGroup"
