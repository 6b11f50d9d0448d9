"""RDS: DB parameters set by the user read back with `Source: user`, and can be reset.

DescribeDBParameters in AWS tags each parameter with its `Source` (`user`, `system`, `engine-default`).
moto 5.2 stores only what ModifyDBParameterGroup sent, without a Source. The provider keeps, from a
configured `aws_db_parameter_group`, only parameters whose Source is `user` (or that are in the config
with another Source), so every parameter is dropped from state and re-planned on every plan. moto also
ignores the request's `Source` filter and has no ResetDBParameterGroup, which the provider calls when a
parameter is removed from the config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._canary import unimplemented
from stackprobe.backends.compat._monkey import add, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.rds.models import DBParameterGroup

USER_SOURCE = "user"


def _describe_db_parameters(self: Any) -> ActionResult:
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import DBParameterGroupNotFoundError

    name = self.params.get("DBParameterGroupName")
    groups = self.backend.describe_db_parameter_groups({"db_parameter_group_name": name})
    if not groups:
        raise DBParameterGroupNotFoundError(name)
    parameters = list(groups[0].parameters.values())
    source = self.params.get("Source")
    if source:
        parameters = [p for p in parameters if p.get("Source", USER_SOURCE) == source]
    return ActionResult({"Parameters": parameters})


def _reset_db_parameter_group(self: Any) -> ActionResult:
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import DBParameterGroupNotFoundError

    # moto has no engine defaults to go back to; a reset parameter simply stops being user-set.
    name = self.params.get("DBParameterGroupName")
    groups = self.backend.describe_db_parameter_groups({"db_parameter_group_name": name})
    if not groups:
        raise DBParameterGroupNotFoundError(name)
    group = groups[0]
    if self.params.get("ResetAllParameters"):
        group.parameters.clear()
    else:
        for parameter in self.params.get("Parameters") or []:
            group.parameters.pop(parameter.get("ParameterName") or parameter.get("parameter_name"), None)
    return ActionResult({"DBParameterGroupName": group.name})


def _apply() -> None:
    from moto.rds.models import DBParameterGroup
    from moto.rds.responses import RDSResponse

    original_update = DBParameterGroup.update_parameters

    def update_parameters(self: DBParameterGroup, new_parameters: Any) -> None:
        original_update(self, new_parameters)
        for new_parameter in new_parameters:
            self.parameters[new_parameter["ParameterName"]]["Source"] = USER_SOURCE

    replace(DBParameterGroup, "update_parameters", update_parameters)
    replace(RDSResponse, "describe_db_parameters", _describe_db_parameters)
    add(RDSResponse, "reset_db_parameter_group", _reset_db_parameter_group)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A parameter set through ModifyDBParameterGroup, read back with and without a Source filter, then reset."""
    rds = moto.client("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName="canary-pg", DBParameterGroupFamily="postgres16", Description="canary"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName="canary-pg",
        Parameters=[
            {"ParameterName": "log_min_duration_statement", "ParameterValue": "500", "ApplyMethod": "immediate"}
        ],
    )
    everything = rds.describe_db_parameters(DBParameterGroupName="canary-pg")["Parameters"]
    system = rds.describe_db_parameters(DBParameterGroupName="canary-pg", Source="system")["Parameters"]
    sources = [p.get("Source") for p in everything]
    return [
        Symptom(
            "a user-set parameter reads back without Source 'user'", sources != ["user"], f"Source of each: {sources}"
        ),
        Symptom(
            "DescribeDBParameters ignores its Source filter",
            bool(system),
            f"Source=system answered {[p['ParameterName'] for p in system]}",
        ),
        unimplemented(
            "ResetDBParameterGroup is not implemented",
            lambda: rds.reset_db_parameter_group(DBParameterGroupName="canary-pg", ResetAllParameters=True),
        ),
    ]


PATCH = MotoPatch(
    name="rds-parameter-source",
    kind=GapKind.DRIFT,
    resource_types=("aws_db_parameter_group",),
    gap="DescribeDBParameters returns no Source and ignores the Source filter, so the provider drops every "
    "configured parameter from state; ResetDBParameterGroup is not implemented.",
    fix="Marks parameters set through ModifyDBParameterGroup with Source 'user', honours the Source filter, "
    "and implements ResetDBParameterGroup by removing the user setting.",
    install=_apply,
    canary=reproduce,
)
