"""Application Auto Scaling: tags on scalable targets.

moto 5.2 returns a `ScalableTargetARN` but implements none of TagResource, ListTagsForResource or
UntagResource, and drops the `Tags` of RegisterScalableTarget. The AWS provider tags on create and
reads the tags back (transparent tagging), so `aws_appautoscaling_target` never finishes. AWS keeps the
tags on the scalable target, addressed by that ARN; they go when the target is deregistered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._canary import error_of, unimplemented
from stackprobe.backends.compat._monkey import add, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.applicationautoscaling.models import FakeScalableTarget


def _tags_of(target: Any) -> dict[str, str]:
    # Kept on the target itself so that moto's reset and DeregisterScalableTarget drop them with it.
    tags: dict[str, str] | None = getattr(target, "stackprobe_tags", None)
    if tags is None:
        tags = {}
        target.stackprobe_tags = tags
    return tags


def _target_by_arn(response: Any, arn: str) -> FakeScalableTarget:
    from moto.core.exceptions import JsonRESTError

    backend = response.applicationautoscaling_backend
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return target  # type: ignore[no-any-return]
    raise JsonRESTError("ResourceNotFoundException", f"No scalable target found for ARN: {arn}")


def _tag_resource(self: Any) -> str:
    target = _target_by_arn(self, self._get_param("ResourceARN"))
    _tags_of(target).update(self._get_param("Tags") or {})
    return json.dumps({})


def _untag_resource(self: Any) -> str:
    target = _target_by_arn(self, self._get_param("ResourceARN"))
    tags = _tags_of(target)
    for key in self._get_param("TagKeys") or []:
        tags.pop(key, None)
    return json.dumps({})


def _list_tags_for_resource(self: Any) -> str:
    target = _target_by_arn(self, self._get_param("ResourceARN"))
    return json.dumps({"Tags": _tags_of(target)})


def _apply() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    original_register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self: Any) -> str:
        body = original_register(self)
        tags = self._get_param("Tags")
        if tags:
            _tags_of(_target_by_arn(self, json.loads(body)["ScalableTargetARN"])).update(tags)
        return body

    # moto dispatches an action to the response method named after it, so new methods are new actions.
    replace(ApplicationAutoScalingResponse, "register_scalable_target", register_scalable_target)
    add(ApplicationAutoScalingResponse, "tag_resource", _tag_resource)
    add(ApplicationAutoScalingResponse, "untag_resource", _untag_resource)
    add(ApplicationAutoScalingResponse, "list_tags_for_resource", _list_tags_for_resource)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """Register a tagged scalable target, read its tags back by its ARN, and tag it again."""
    moto.client("dynamodb").create_table(
        TableName="canary-tags",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    aas = moto.client("application-autoscaling")
    arn = aas.register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId="table/canary-tags",
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=5,
        MaxCapacity=50,
        Tags={"team": "canary"},
    )["ScalableTargetARN"]
    listed: dict[str, Any] = {}
    error = error_of(lambda: listed.update(aas.list_tags_for_resource(ResourceARN=arn)))
    tags = listed.get("Tags")
    return [
        Symptom(
            "the Tags of RegisterScalableTarget do not read back from ListTagsForResource",
            tags != {"team": "canary"},
            error or f"Tags={tags!r}",
        ),
        unimplemented("TagResource is not implemented", lambda: aas.tag_resource(ResourceARN=arn, Tags={"a": "b"})),
        unimplemented("UntagResource is not implemented", lambda: aas.untag_resource(ResourceARN=arn, TagKeys=["a"])),
    ]


PATCH = MotoPatch(
    name="appautoscaling-target-tags",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_appautoscaling_target",),
    gap="TagResource, UntagResource and ListTagsForResource are not implemented, and the Tags of "
    "RegisterScalableTarget are dropped; the provider's create reads the tags back and never finishes.",
    fix="Stores tags on the scalable target (addressed by its ScalableTargetARN) from RegisterScalableTarget "
    "and TagResource, and answers ListTagsForResource and UntagResource.",
    install=_apply,
    canary=reproduce,
)
