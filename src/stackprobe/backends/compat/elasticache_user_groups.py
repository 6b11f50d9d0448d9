"""ElastiCache: user groups (Create/Describe/Modify/DeleteUserGroup) and their replication groups.

moto 5.2 implements ElastiCache users but no user groups: CreateUserGroup answers 500, so
`aws_elasticache_user_group` cannot be applied, and a replication group with RBAC (`user_group_ids`)
cannot be either (seen on the sports-commentary scenario, which was verified by its plan only). moto
stores the `UserGroupIds` CreateReplicationGroup is given without checking that they exist, ignores
ModifyReplicationGroup's `UserGroupIdsToAdd`/`UserGroupIdsToRemove`, and refuses ListTagsForResource
on a user group's ARN (InvalidARN), which the provider reads after every create.

AWS keeps a user group of existing users (UserNotFound), one per id (UserGroupAlreadyExists), with no
two users of the same name (DuplicateUserName); a Redis OSS group must always hold a user named
"default" (DefaultUserRequired). A replication group may only name groups that exist
(UserGroupNotFound), and a group attached to one cannot be deleted (InvalidUserGroupState). Deleting a
user takes it out of its groups, except the "default" user of a group
(DefaultUserAssociatedToUserGroup). AWS moves a group through "creating"/"modifying"; here it is
"active" at once, as moto does for its other resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._canary import error_of, unimplemented
from stackprobe.backends.compat._monkey import add, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult
    from moto.elasticache.models import ElastiCacheBackend, ReplicationGroup, User

# The user name every Redis OSS user group must hold: clients that connect without AUTH are this user.
DEFAULT_USER_NAME = "default"
# What DescribeUserGroups reports as MinimumEngineVersion: RBAC came with Redis OSS 6.0 and Valkey 7.2.
MINIMUM_ENGINE_VERSIONS = {"redis": "6.0", "valkey": "7.2"}
_USER_GROUP_ARN = re.compile(r"^arn:[\w-]+:elasticache:[\w-]*:\d*:usergroup:(?P<id>.+)$")


@dataclass
class UserGroup:
    user_group_id: str
    engine: str
    # In the order they were added, without repeats (a set in the provider's schema).
    user_ids: list[str]
    arn: str
    status: str = "active"


def user_groups(backend: ElastiCacheBackend) -> dict[str, UserGroup]:
    """The backend's user groups by id.

    Kept in the backend instance's own __dict__, so moto's reset (which rebuilds that __dict__) empties
    them with the users and replication groups they refer to.
    """
    store: dict[str, UserGroup] = backend.__dict__.setdefault("stackprobe_user_groups", {})
    return store


def _error(code: str, message: str) -> ServiceException:
    from moto.elasticache.exceptions import ElastiCacheException

    return ElastiCacheException(code, message)


def _not_found(user_group_id: str) -> ServiceException:
    return _error("UserGroupNotFound", f"User group {user_group_id} not found.")


def _group(backend: ElastiCacheBackend, user_group_id: str) -> UserGroup:
    group = user_groups(backend).get(user_group_id.lower())
    if group is None:
        raise _not_found(user_group_id)
    return group


def _replication_groups_using(backend: ElastiCacheBackend, user_group_id: str) -> list[str]:
    # Read from the replication groups themselves (not kept on the group), so a replication group that
    # is deleted, by moto or by the member-clusters patch, stops using it without bookkeeping here. One
    # still "deleting" uses it, as in AWS.
    return [
        rg.replication_group_id
        for rg in backend.replication_groups.values()
        if user_group_id in (getattr(rg, "user_group_ids", None) or [])
    ]


def _describe(backend: ElastiCacheBackend, group: UserGroup) -> dict[str, Any]:
    # The members of botocore's UserGroup shape, by name: moto serialises responses from the model.
    # PendingChanges stays out: changes apply at once, so none is ever pending.
    return {
        "UserGroupId": group.user_group_id,
        "Status": group.status,
        "Engine": group.engine,
        "UserIds": list(group.user_ids),
        "MinimumEngineVersion": MINIMUM_ENGINE_VERSIONS.get(group.engine, "6.0"),
        "ReplicationGroups": _replication_groups_using(backend, group.user_group_id),
        "ServerlessCaches": [],
        "ARN": group.arn,
    }


def _sync_users(backend: ElastiCacheBackend) -> None:
    """Each user's UserGroupIds (DescribeUsers), recomputed from the groups after every change to them."""
    groups = user_groups(backend).values()
    for user in backend.users.values():
        user.user_group_ids = [g.user_group_id for g in groups if user.id in g.user_ids]


def _check_members(backend: ElastiCacheBackend, engine: str, user_ids: list[str]) -> None:
    from moto.elasticache.exceptions import UserNotFound

    members: list[User] = []
    for user_id in user_ids:
        user = backend.users.get(user_id)
        # moto keeps a deleted user (status "deleting") until it is next described: it is gone for AWS.
        if user is None or user.status == "deleting":
            raise UserNotFound(user_id)
        members.append(user)
    names = [user.name for user in members]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise _error("DuplicateUserName", f"A user with the user name {duplicates[0]} already exists in the group.")
    # Valkey groups may do without one (they hold only users who authenticate); Redis OSS groups may not.
    if engine == "redis" and DEFAULT_USER_NAME not in names:
        raise _error("DefaultUserRequired", "You must add default user to a user group.")


def _engine(engine: str | None) -> str:
    from moto.elasticache.exceptions import InvalidParameterValueException

    lowered = (engine or "").lower()
    if lowered not in MINIMUM_ENGINE_VERSIONS:
        raise InvalidParameterValueException(f"Engine {engine} is not valid: the options are valkey or redis.")
    return lowered


def _create_user_group(
    self: ElastiCacheBackend,
    user_group_id: str,
    engine: str | None,
    user_ids: list[str],
    tags: list[dict[str, str]],
) -> UserGroup:
    from moto.utilities.utils import get_partition

    # AWS stores the id in lower case, and answers with it so.
    group_id = user_group_id.lower()
    groups = user_groups(self)
    if group_id in groups:
        raise _error("UserGroupAlreadyExists", f"User group {group_id} already exists.")
    lowered = _engine(engine)
    members = list(dict.fromkeys(user_ids))
    _check_members(self, lowered, members)
    arn = f"arn:{get_partition(self.region_name)}:elasticache:{self.region_name}:{self.account_id}:usergroup:{group_id}"
    group = UserGroup(user_group_id=group_id, engine=lowered, user_ids=members, arn=arn)
    if tags:
        self.tagging_service.tag_resource(arn, tags)
    groups[group_id] = group
    _sync_users(self)
    return group


def _describe_user_groups(self: ElastiCacheBackend, user_group_id: str | None) -> list[UserGroup]:
    if user_group_id:
        return [_group(self, user_group_id)]
    return list(user_groups(self).values())


def _modify_user_group(
    self: ElastiCacheBackend,
    user_group_id: str,
    user_ids_to_add: list[str],
    user_ids_to_remove: list[str],
    engine: str | None,
) -> UserGroup:
    group = _group(self, user_group_id)
    new_engine = _engine(engine) if engine else group.engine
    kept = [u for u in group.user_ids if u not in user_ids_to_remove]
    members = list(dict.fromkeys([*kept, *user_ids_to_add]))
    # The group as it would be must obey the same rules as a new one (a default user, no duplicate name).
    _check_members(self, new_engine, members)
    group.user_ids = members
    group.engine = new_engine
    _sync_users(self)
    return group


def _delete_user_group(self: ElastiCacheBackend, user_group_id: str) -> UserGroup:
    group = _group(self, user_group_id)
    users = _replication_groups_using(self, group.user_group_id)
    if users:
        raise _error(
            "InvalidUserGroupState",
            f"User group {group.user_group_id} is in use by replication group(s) {', '.join(users)}.",
        )
    # AWS answers with the group in status "deleting"; here it is gone at once (the provider waits for
    # UserGroupNotFound).
    group.status = "deleting"
    del user_groups(self)[group.user_group_id]
    self.tagging_service.delete_all_tags_for_resource(group.arn)
    _sync_users(self)
    return group


def _check_user_groups_exist(backend: ElastiCacheBackend, user_group_ids: list[str]) -> list[str]:
    """The ids lowered as AWS stores them; UserGroupNotFound for one that does not exist."""
    return [_group(backend, group_id).user_group_id for group_id in user_group_ids]


def _modify_replication_group_user_groups(
    backend: ElastiCacheBackend,
    replication_group_id: str,
    to_add: list[str],
    to_remove: list[str],
    remove_all: bool,
) -> None:
    from moto.elasticache.exceptions import ReplicationGroupNotFound

    rg: ReplicationGroup | None = backend.replication_groups.get(replication_group_id)
    if rg is None:
        raise ReplicationGroupNotFound(replication_group_id)
    adding = _check_user_groups_exist(backend, to_add)
    removing = [group_id.lower() for group_id in to_remove]
    current = [] if remove_all else [g for g in rg.user_group_ids if g not in removing]
    rg.user_group_ids = list(dict.fromkeys([*current, *adding]))
    _sync_users(backend)


# Response handlers: each reads the request's parameters and answers with the shapes' member names.


def _create_user_group_response(self: Any) -> ActionResult:
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    group = backend.create_user_group(
        user_group_id=self._get_param("UserGroupId"),
        engine=self._get_param("Engine"),
        user_ids=self._get_param("UserIds", []),
        tags=self._get_param("Tags", []),
    )
    return ActionResult(_describe(backend, group))


def _describe_user_groups_response(self: Any) -> ActionResult:
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    groups = backend.describe_user_groups(user_group_id=self._get_param("UserGroupId"))
    return ActionResult({"UserGroups": [_describe(backend, group) for group in groups]})


def _modify_user_group_response(self: Any) -> ActionResult:
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    group = backend.modify_user_group(
        user_group_id=self._get_param("UserGroupId"),
        user_ids_to_add=self._get_param("UserIdsToAdd", []),
        user_ids_to_remove=self._get_param("UserIdsToRemove", []),
        engine=self._get_param("Engine"),
    )
    return ActionResult(_describe(backend, group))


def _delete_user_group_response(self: Any) -> ActionResult:
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    group = backend.delete_user_group(user_group_id=self._get_param("UserGroupId"))
    return ActionResult(_describe(backend, group))


def _apply() -> None:
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    original_create_rg = ElastiCacheBackend.create_replication_group
    original_modify_rg_response = ElastiCacheResponse.modify_replication_group
    original_delete_user = ElastiCacheBackend.delete_user
    original_list_tags = ElastiCacheBackend.list_tags_for_resource

    def create_replication_group(self: ElastiCacheBackend, **kwargs: Any) -> ReplicationGroup:
        # Checked before the group exists: AWS creates no replication group that names an unknown one.
        if kwargs.get("user_group_ids"):
            kwargs["user_group_ids"] = _check_user_groups_exist(self, kwargs["user_group_ids"])
        group = original_create_rg(self, **kwargs)
        _sync_users(self)
        return group

    def modify_replication_group(self: Any) -> ActionResult:
        # moto's handler passes the backend only the settings it models; the user groups are applied
        # first (and checked: an unknown group changes nothing), so its answer shows them.
        _modify_replication_group_user_groups(
            self.elasticache_backend,
            self._get_param("ReplicationGroupId"),
            to_add=self._get_param("UserGroupIdsToAdd", []),
            to_remove=self._get_param("UserGroupIdsToRemove", []),
            remove_all=bool(self._get_bool_param("RemoveUserGroups")),
        )
        return original_modify_rg_response(self)

    def delete_user(self: ElastiCacheBackend, user_id: str) -> User:
        user = self.users.get(user_id)
        holding = [g.user_group_id for g in user_groups(self).values() if user_id in g.user_ids]
        if user is not None and user.name == DEFAULT_USER_NAME and holding:
            raise _error(
                "DefaultUserAssociatedToUserGroup",
                f"User {user_id} is the default user of user group(s) {', '.join(holding)}.",
            )
        deleted = original_delete_user(self, user_id)
        # AWS takes a deleted user out of every group it was in.
        for group in user_groups(self).values():
            if user_id in group.user_ids:
                group.user_ids.remove(user_id)
        _sync_users(self)
        return deleted

    def list_tags_for_resource(self: ElastiCacheBackend, arn: str) -> dict[str, list[dict[str, str]]]:
        # moto's ARN pattern knows no "usergroup", so it answered InvalidARN to the provider's read.
        match = _USER_GROUP_ARN.match(arn)
        if match is None:
            return original_list_tags(self, arn)
        _group(self, match["id"])
        return self.tagging_service.list_tags_for_resource(arn)

    add(ElastiCacheBackend, "create_user_group", _create_user_group)
    add(ElastiCacheBackend, "describe_user_groups", _describe_user_groups)
    add(ElastiCacheBackend, "modify_user_group", _modify_user_group)
    add(ElastiCacheBackend, "delete_user_group", _delete_user_group)
    add(ElastiCacheResponse, "create_user_group", _create_user_group_response)
    add(ElastiCacheResponse, "describe_user_groups", _describe_user_groups_response)
    add(ElastiCacheResponse, "modify_user_group", _modify_user_group_response)
    add(ElastiCacheResponse, "delete_user_group", _delete_user_group_response)
    replace(ElastiCacheBackend, "create_replication_group", create_replication_group)
    replace(ElastiCacheResponse, "modify_replication_group", modify_replication_group)
    replace(ElastiCacheBackend, "delete_user", delete_user)
    replace(ElastiCacheBackend, "list_tags_for_resource", list_tags_for_resource)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A user group of the built-in default user, attached to a replication group, its tags read back."""
    elasticache = moto.client("elasticache")
    created = unimplemented(
        "CreateUserGroup is not implemented",
        lambda: elasticache.create_user_group(
            UserGroupId="canary-users", Engine="redis", UserIds=["default"], Tags=[{"Key": "k", "Value": "v"}]
        ),
    )
    unknown = error_of(
        lambda: elasticache.create_replication_group(
            ReplicationGroupId="canary-unknown-group",
            ReplicationGroupDescription="canary",
            Engine="redis",
            UserGroupIds=["canary-no-such-group"],
        )
    )
    elasticache.create_replication_group(
        ReplicationGroupId="canary-rg", ReplicationGroupDescription="canary", Engine="redis"
    )
    elasticache.modify_replication_group(ReplicationGroupId="canary-rg", UserGroupIdsToAdd=["canary-users"])
    attached = elasticache.describe_replication_groups(ReplicationGroupId="canary-rg")["ReplicationGroups"][0]
    # The group's ARN, from the built-in default user's (the same account and region).
    default_user = elasticache.describe_users(UserId="default")["Users"][0]["ARN"]
    arn = default_user.replace(":user:default", ":usergroup:canary-users")
    tags_error = error_of(lambda: elasticache.list_tags_for_resource(ResourceName=arn))
    return [
        created,
        Symptom(
            "a replication group accepts a user group that does not exist",
            unknown is None,
            unknown or "created with UserGroupIds=['canary-no-such-group']",
        ),
        Symptom(
            "ModifyReplicationGroup ignores UserGroupIdsToAdd",
            "canary-users" not in (attached.get("UserGroupIds") or []),
            f"UserGroupIds={attached.get('UserGroupIds')}",
        ),
        Symptom(
            "ListTagsForResource refuses a user group's ARN",
            tags_error is not None,
            f"ListTagsForResource({arn}): {tags_error or 'answered'}",
        ),
    ]


PATCH = MotoPatch(
    name="elasticache-user-groups",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_elasticache_user_group", "aws_elasticache_replication_group"),
    gap="User groups are not implemented: CreateUserGroup answers 500, so RBAC cannot be applied; a "
    "replication group's UserGroupIds are stored unchecked, ModifyReplicationGroup ignores "
    "UserGroupIdsToAdd/UserGroupIdsToRemove, and a user group's ARN is refused by ListTagsForResource.",
    fix="Implements CreateUserGroup, DescribeUserGroups, ModifyUserGroup and DeleteUserGroup with AWS's "
    "rules (existing users, a user named default in a Redis OSS group, no duplicate id or user name, no "
    "delete while a replication group uses it), checks and applies a replication group's user groups on "
    "create and modify, keeps users' UserGroupIds, and lists a user group's tags.",
    install=_apply,
    canary=reproduce,
)
