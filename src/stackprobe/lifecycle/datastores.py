"""Who owns the local datastores (stackprobe.datastores): the deployment they stand beside, ended by its run.

A deployment's `LocalDatastores` is made the first time a check context is built for it with `--datastore`
(`datastores_for`, called by `stackprobe.lifecycle.context.build_context`): one per deployment, so the contexts of
its mutants share its servers. Nothing starts then: a server starts when a probe or a check first asks for it.
They are ended by `end_datastores`, called where their deployment's checks end (the verify flow, which reports
how each server ended) and by the `Run` that owns the deployment when it closes (the pytest session, mutants,
an error on the way): whichever comes first ends them, the other finds nothing left.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable

from botocore.exceptions import ClientError

from stackprobe.checks.rds_capacity import max_connections
from stackprobe.datastores import LocalDatastores, parse_requests
from stackprobe.datastores.deployed import DeployedDatastore, Deployment
from stackprobe.datastores.engines import Family
from stackprobe.lifecycle.deployment import DeployedStack
from stackprobe.lifecycle.deployment import Deployment as StackDeployment
from stackprobe.settings import CheckSettings

LOG = logging.getLogger("stackprobe.lifecycle")

_OPEN: weakref.WeakKeyDictionary[StackDeployment, LocalDatastores] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def connection_limit(deployment: Deployment, datastore: DeployedDatastore) -> int | None:
    """max_connections of the deployed instance, as its class and parameter group set it (None: the engine's own
    default, for Redis and what the model does not know)."""
    if datastore.family is Family.REDIS or datastore.instance_class is None:
        return None
    instance = next((db for db in deployment.account.rds.instances() if db.arn == datastore.arn), None)
    value: str | None = None
    for group in (instance.raw.get("DBParameterGroups") or []) if instance is not None else []:
        name = str(group.get("DBParameterGroupName") or "")
        if not name or name.startswith("default."):
            continue
        try:
            parameters = deployment.account.rds.parameters(name)
        except ClientError:
            continue
        value = next(
            (
                str(p["ParameterValue"])
                for p in parameters
                if p.get("ParameterName") == "max_connections" and p.get("ParameterValue")
            ),
            value,
        )
    return max_connections(datastore.engine, datastore.instance_class, value).value


def datastores_for(deployed: DeployedStack, settings: CheckSettings) -> LocalDatastores | None:
    """The deployment's local datastores (made on the first ask, started on first use); None without --datastore."""
    if not settings.datastores:
        return None
    with _LOCK:
        found = _OPEN.get(deployed.owner)
        if found is None or found.closed:
            found = LocalDatastores(
                parse_requests(settings.datastores),
                connection_limit=connection_limit,
                setup_sql=settings.datastore_sql,
            )
            _OPEN[deployed.owner] = found
        return found


def end_datastores(deployments: Iterable[StackDeployment]) -> list[str]:
    """End the local datastores of `deployments`; one line per server on how it ended (none when none ran)."""
    endings: list[str] = []
    for deployment in list(deployments):
        with _LOCK:
            found = _OPEN.pop(deployment, None)
        if found is None:
            continue
        ended = found.close()
        for line in ended:
            LOG.info("local datastore %s", line)
        endings += [f"Local datastore {line}." for line in ended]
    return endings
