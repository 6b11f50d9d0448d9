"""Real servers behind emulated RDS and ElastiCache endpoints: PostgreSQL, MySQL and Redis, started here.

The emulator holds an RDS instance or an ElastiCache group as a record, with an endpoint nothing answers on.
With `--datastore` (ini `stackprobe_datastores`), a real server of the deployed engine and major version stands
in for each asked-for datastore, on a free loopback port, created as the stack creates it (database name,
master user and password, AUTH token or RBAC users, TLS where AWS requires it): `deployed` reads what the stack
deployed, `engines` finds how this machine runs it (host binaries or testcontainers), `postgres`, `mysql`,
`redis` and `containers` run it, and `local.LocalDatastores` decides what each probed container is given,
through the network model, and ends every server it started.
"""

from stackprobe.datastores.local import (
    AUTO,
    Access,
    DatastoreConfigError,
    DatastoreRequest,
    EngineFacts,
    LocalDatastores,
    access_for,
    parse_request,
    parse_requests,
)
from stackprobe.datastores.servers import DatastoreStartError

__all__ = [
    "AUTO",
    "Access",
    "DatastoreConfigError",
    "DatastoreRequest",
    "DatastoreStartError",
    "EngineFacts",
    "LocalDatastores",
    "access_for",
    "parse_request",
    "parse_requests",
]
