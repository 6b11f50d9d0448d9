"""The local datastores of one deployment: which are asked for, started on first use, given to whom, ended once.

`--datastore` (ini `stackprobe_datastores`) says which deployed datastores get a real server:
- `auto`: every RDS instance and Aurora cluster (with the replicas and RDS Proxies in front of them) and every
  ElastiCache Redis replication group or cluster the stack deploys;
- `ADDRESS=ENGINE` (ENGINE: postgres, mysql or redis; `ENGINE:MAJOR` to run another major version than the
  deployed one, which the evidence then says; `ENGINE:installed` for the newest major this machine's binaries
  run, else the deployed one): one datastore, named by its Terraform address (with or without index), its
  identifier, its ARN or an endpoint host; a proxy or a replica names the datastore behind it.

`--datastore-sql ADDRESS=FILE` (ini `stackprobe_datastore_sql`) names the SQL an operator runs once against the
new database as its master user (the application's roles, grants, extensions: what the stack cannot create).
ADDRESS names a PostgreSQL or MySQL datastore as `--datastore` does, and a `--datastore` value must select it;
its local server runs FILE after it is made (see `stackprobe.datastores.servers`), and the evidence says so.

`LocalDatastores` starts a server for each (host binaries, else testcontainers, see `stackprobe.datastores.
engines`) the first time a container is given addresses (`serve`) or a check asks the engine (`facts`), and
keeps it until `close()`, which ends each and says how. Both questions take the deployment as it is now (a
mutant's changed security groups count), while the servers stay.

What a container is given (`serve`, an `Access`): for each endpoint, the local server's address, when the
network model admits the container's security groups to the datastore's on its port (through a proxy: both
hops). Database traffic does not pass the HTTP guard (`stackprobe.probes.egress`), so this is the decision: a
container the model refuses is given an address where nothing listens, and its connection is refused, as
AWS would drop it; the evidence names the blockers. An engine this machine cannot run leaves its endpoints
unserved and says what to install (`Access.unavailable`).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.aws.workloads import Workload
from stackprobe.datastores.deployed import DeployedDatastore, Deployment, Endpoint, discover
from stackprobe.datastores.engines import FAMILIES, INSTALLED, Family, Runner, family_of, newest_installed, runner_for
from stackprobe.datastores.servers import DatastoreStartError, LocalServer, ServerSpec
from stackprobe.datastores.tls import LocalAuthority
from stackprobe.errors import InputError
from stackprobe.network.reachability import Source
from stackprobe.probes.addresses import AddressMap, Served
from stackprobe.probes.process import free_port

AUTO = "auto"


class DatastoreConfigError(InputError):
    """A `--datastore` value that names nothing deployed, or an engine other than the deployed one's; a
    `--datastore-sql` value that names nothing deployed, a Redis datastore, or one no `--datastore` selects."""


# What MAJOR in ENGINE:MAJOR may be: a major version (15, 9.6, 8.0, 10.11, 7), or `installed`.
MAJOR_PATTERN = re.compile(r"\d+(\.\d+)?")


@dataclass(frozen=True)
class DatastoreRequest:
    """One `--datastore` value: `auto`, or a target with the engine (and optionally the major) to run."""

    target: str
    family: str | None = None
    major: str | None = None

    @property
    def auto(self) -> bool:
        return self.target == AUTO

    def describe(self) -> str:
        if self.auto:
            return AUTO
        return f"{self.target}={self.family}" + (f":{self.major}" if self.major else "")


def parse_request(value: str) -> DatastoreRequest:
    """`auto` or `ADDRESS=ENGINE[:MAJOR]`; raises DatastoreConfigError naming the value."""
    text = value.strip()
    if text == AUTO:
        return DatastoreRequest(AUTO)
    target, sep, engine = text.rpartition("=")
    family, _, major = engine.partition(":")
    if not sep or not target.strip() or family.strip() not in FAMILIES:
        raise DatastoreConfigError(
            f"--datastore {value!r} is neither `auto` nor ADDRESS=ENGINE with ENGINE one of {', '.join(FAMILIES)}",
            "write --datastore auto, or e.g. --datastore module.db.aws_db_instance.main=postgres.",
        )
    major = major.strip()
    if major and major != INSTALLED and not MAJOR_PATTERN.fullmatch(major):
        raise DatastoreConfigError(
            f"--datastore {value!r}: {major!r} is neither a major version (15, 8.0, 7) nor `{INSTALLED}`",
            f"write ENGINE:MAJOR, e.g. {family.strip()}:15, or {family.strip()}:{INSTALLED} for the newest major this "
            "machine has.",
        )
    return DatastoreRequest(target.strip(), family.strip(), major or None)


def parse_requests(values: Iterable[str]) -> tuple[DatastoreRequest, ...]:
    return tuple(parse_request(value) for value in values)


@dataclass(frozen=True)
class Selected:
    """A deployed datastore asked for, and how this machine runs it."""

    datastore: DeployedDatastore
    runner: Runner
    asked: str  # the --datastore value that selected it
    # The operator's setup SQL its server runs once made (--datastore-sql), or None.
    setup_sql: Path | None = None
    # The major is the newest this machine has (ENGINE:installed).
    newest_installed: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.datastore.arn, self.runner.flavour, self.runner.major)


@dataclass
class Access:
    """What one ECS service's containers are given, and the evidence of it."""

    addresses: AddressMap = field(default_factory=AddressMap)
    notes: list[str] = field(default_factory=list)
    # Datastores the service's environment names that no local server serves here, and why (what to install).
    unavailable: list[str] = field(default_factory=list)
    # The remedy when the service is given endpoints of datastores no --datastore asked for ("" when none).
    hint: str = ""

    def evidence(self, passed: bool) -> list[str]:
        """What a finding measured with this access adds to its evidence: the datastores the containers were
        given, and, failed, the remedy for the endpoints no local server served."""
        return [f"datastores: {note}" for note in self.notes] + ([self.hint] if not passed and self.hint else [])


@dataclass(frozen=True)
class EngineFacts:
    """What a running engine said of itself, and which server said it."""

    datastore: DeployedDatastore
    server: str
    values: Mapping[str, str]


def _source_of(deployment: Deployment, workload: Workload) -> Any:
    network = deployment.network_graph.network
    return next((w for w in network.workloads if w.id == workload.arn), None)


def _target(deployment: Deployment, network_id: str) -> Any:
    network = deployment.network_graph.network
    return next((w for w in network.workloads if w.id == network_id or network_id in w.other_ids), None)


def names_endpoint(deployment: Deployment, workload: Workload, datastore: DeployedDatastore) -> bool:
    """Whether a container of the service is given one of the datastore's endpoints: in its environment, or in a
    Secrets Manager secret it is given (a JSON document with the host, say)."""
    hosts = {endpoint.host.lower() for endpoint in datastore.endpoints}
    texts = [value for container in workload.containers for value in workload.environment(container).values()]
    for value_from in workload.secret_sources().values():
        if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
            with contextlib.suppress(ClientError, BotoCoreError):
                texts.append(deployment.account.secretsmanager.secret_string(":".join(value_from.split(":")[:7])) or "")
    joined = " ".join(texts).lower()
    return any(host in joined for host in hosts)


class LocalDatastores:
    """See the module docstring. `connection_limit` says what max_connections the deployed instance has (its
    class and parameter group), given the deployment and the datastore; `docker` overrides the engine probe."""

    def __init__(
        self,
        requests: Iterable[DatastoreRequest],
        *,
        connection_limit: Callable[[Deployment, DeployedDatastore], int | None] | None = None,
        docker: bool | None = None,
        factories: Mapping[str, Callable[..., LocalServer]] | None = None,
        setup_sql: Iterable[tuple[str, Path | str]] = (),
    ) -> None:
        self.requests = tuple(requests)
        # Values naming a resource the configuration declares but this run did not deploy (count 0 with these
        # variables, a backend's subset): nothing to serve, not bad input; said by describe() and close().
        self.undeployed: list[str] = []
        # (ADDRESS, FILE): --datastore-sql, the operator's setup SQL of the datastore ADDRESS names.
        self.setup_sql = tuple((address, Path(file)) for address, file in setup_sql)
        self.connection_limit = connection_limit
        self.docker = docker
        self._factories = factories
        self._servers: dict[tuple[str, str, str], LocalServer] = {}
        self._failed: dict[tuple[str, str, str], DatastoreStartError] = {}
        self._authority: LocalAuthority | None = None
        self._lock = threading.RLock()
        self.endings: list[str] = []
        self.closed = False

    def describe(self) -> str:
        described = ", ".join(request.describe() for request in self.requests) or "none"
        sql = ", ".join(f"{address}={file}" for address, file in self.setup_sql)
        described += f"; setup SQL {sql}" if sql else ""
        if self.undeployed:
            described += f"; declared but not deployed in this run, so not served: {', '.join(self.undeployed)}"
        return described

    def _undeployed(self, value: str) -> None:
        if value not in self.undeployed:
            self.undeployed.append(value)

    # -- which ----------------------------------------------------------------------------------------------
    def select(self, deployment: Deployment, deployed: list[DeployedDatastore] | None = None) -> list[Selected]:
        """The deployed datastores the requests ask for; raises DatastoreConfigError for a request that names
        nothing deployed or another engine than the deployed one's."""
        deployed = discover(deployment) if deployed is None else deployed
        chosen: dict[str, Selected] = {}
        for request in self.requests:
            if request.auto:
                for datastore in deployed:
                    chosen.setdefault(datastore.arn, self._selected(datastore, datastore.major, AUTO))
                continue
            match = [d for d in deployed if request.target in d.names()]
            if not match and _declared(deployment, request.target):
                self._undeployed(f"--datastore {request.describe()}")
                continue
            if not match:
                raise DatastoreConfigError(
                    f"--datastore {request.describe()} names no datastore the stack deployed",
                    "name one by its Terraform address, identifier or endpoint, or use --datastore auto.",
                    f"Deployed datastores: {_known(deployed)}.",
                )
            for datastore in match:
                if family_of(datastore.engine) is not Family(request.family or ""):
                    raise DatastoreConfigError(
                        f"--datastore {request.describe()}: {datastore.label} runs {datastore.engine} "
                        f"{datastore.version}, not {request.family}",
                        f"write --datastore {request.target}={datastore.family.value}.",
                    )
                chosen[datastore.arn] = self._selected(datastore, request.major or datastore.major, request.describe())
        self._attach_setup_sql(deployment, deployed, chosen)
        return list(chosen.values())

    def _selected(self, datastore: DeployedDatastore, major: str, asked: str) -> Selected:
        newest = major == INSTALLED
        if newest:
            # The newest major this machine's binaries run; none: the deployed one (a container, else what to install).
            major = newest_installed(datastore.flavour) or datastore.major
        runner = runner_for(datastore.flavour, major, docker=self.docker)
        return Selected(datastore, runner, asked, newest_installed=newest and runner.host is not None)

    def _attach_setup_sql(
        self, deployment: Deployment, deployed: list[DeployedDatastore], chosen: dict[str, Selected]
    ) -> None:
        """Give each --datastore-sql file to the selected datastore it names; raises DatastoreConfigError for one
        that names nothing deployed, a Redis datastore, a datastore no --datastore selects, or one named twice."""
        given: dict[str, tuple[str, Path]] = {}
        for address, file in self.setup_sql:
            asked = f"--datastore-sql {address}={file}"
            match = [d for d in deployed if address in d.names()]
            if not match and _declared(deployment, address):
                self._undeployed(asked)
                continue
            if not match:
                raise DatastoreConfigError(
                    f"{asked} names no datastore the stack deployed",
                    "name a PostgreSQL or MySQL datastore by its Terraform address, identifier or endpoint, as "
                    "--datastore does.",
                    f"Deployed datastores: {_known(deployed)}.",
                )
            for datastore in match:
                if datastore.family is Family.REDIS:
                    raise DatastoreConfigError(
                        f"{asked}: {datastore.label} runs {datastore.engine} {datastore.version}, which takes no SQL",
                        "give --datastore-sql only for a PostgreSQL or MySQL datastore (RDS or Aurora).",
                    )
                selected = chosen.get(datastore.arn)
                if selected is None:
                    raise DatastoreConfigError(
                        f"{asked}: no --datastore value selects {datastore.label}, so no local server runs the file",
                        f"add --datastore {address}={datastore.family.value} (or --datastore auto).",
                    )
                earlier = given.get(datastore.arn)
                if earlier is not None and earlier[1] != file:
                    raise DatastoreConfigError(
                        f"{asked}: {datastore.label} already has a setup file: --datastore-sql "
                        f"{earlier[0]}={earlier[1]}",
                        "give one file per datastore (put the statements of both in it, in the order they must run).",
                    )
                given[datastore.arn] = (address, file)
                chosen[datastore.arn] = replace(selected, setup_sql=file)

    # -- the servers ----------------------------------------------------------------------------------------
    def _server(self, deployment: Deployment, selected: Selected) -> LocalServer:
        """The running server of a selected datastore (started on first ask); raises DatastoreStartError."""
        with self._lock:
            if self.closed:
                raise DatastoreStartError("The local datastores were already ended", "report this as a bug.")
            key = selected.key
            if key in self._failed:
                raise self._failed[key]
            if key not in self._servers:
                server = self._make(deployment, selected)
                try:
                    server.start()
                except DatastoreStartError as exc:
                    self._failed[key] = exc
                    raise
                self._servers[key] = server
            return self._servers[key]

    def _make(self, deployment: Deployment, selected: Selected) -> LocalServer:
        datastore, runner = selected.datastore, selected.runner
        limit = self.connection_limit(deployment, datastore) if self.connection_limit is not None else None
        spec = ServerSpec(
            label=f"{datastore.label} ({datastore.engine} {datastore.version})",
            hostnames=tuple(endpoint.host for endpoint in datastore.endpoints),
            db_name=datastore.db_name,
            master_user=datastore.master_user,
            master_password=datastore.master_password,
            iam_users=datastore.iam_users,
            max_connections=limit,
            tls=datastore.tls,
            auth_token=datastore.auth_token,
            redis_users=datastore.redis_users,
            setup_sql=selected.setup_sql,
        )
        authority = self.authority() if datastore.tls else None
        factories = self._factories or _default_factories()
        if runner.host is not None:
            return factories[runner.flavour](spec, runner.host, free_port(), authority)
        assert runner.image is not None
        from stackprobe.datastores.containers import ContainerServer

        return ContainerServer.for_image(spec, runner, authority)

    def authority(self) -> LocalAuthority:
        with self._lock:
            if self._authority is None:
                import tempfile

                self._authority = LocalAuthority(Path(tempfile.mkdtemp(prefix="stackprobe-datastores-ca-")))
            return self._authority

    # -- what containers are given --------------------------------------------------------------------------
    def serve(self, deployment: Deployment, workload: Workload) -> Access:
        """The addresses the service's containers are given (see the module docstring); raises
        DatastoreConfigError for a bad request and DatastoreStartError for a server that cannot start."""
        access = Access()
        entries: dict[tuple[str, int], Served] = {}
        tls = False
        source = _source_of(deployment, workload)
        deployed = discover(deployment)
        selection = self.select(deployment, deployed)
        asked = {selected.datastore.arn for selected in selection}
        access.hint = unserved_hint(
            [d.label for d in deployed if d.arn not in asked and names_endpoint(deployment, workload, d)]
        )
        for selected in selection:
            datastore = selected.datastore
            named = names_endpoint(deployment, workload, datastore)
            if not selected.runner.available:
                if named:
                    access.unavailable.append(
                        f"{datastore.label} ({datastore.engine} {datastore.version}): {selected.runner.missing}"
                    )
                continue
            server = self._server(deployment, selected)
            tls = tls or datastore.tls
            who = f"{server.host.describe()} standing in for {datastore.label}"
            if selected.runner.major != datastore.major:
                who += f", major {selected.runner.major} where {datastore.major} is deployed"
                if selected.newest_installed:
                    who += " (the newest this machine has, as :installed asks)"
            for endpoint in datastore.endpoints:
                blockers = self._blockers(deployment, source, endpoint)
                if blockers:
                    refused = free_port()
                    why = "; ".join(blockers)
                    entries[(endpoint.host, endpoint.port)] = Served(
                        "127.0.0.1",
                        refused,
                        f"nothing listens: {workload.name} may not reach {datastore.label}'s "
                        f"{endpoint.role}, so the connection is refused as AWS would drop it: {why}",
                    )
                    if named:
                        access.notes.append(
                            f"{datastore.label} {endpoint.role} {endpoint.host}:{endpoint.port} refused to "
                            f"{workload.name} by the security groups: {why}"
                        )
                else:
                    entries[(endpoint.host, endpoint.port)] = Served(server.address[0], server.address[1], who)
            if named:
                access.notes.append(self._served_note(selected, server))
        trust = (str(self._authority.certificate),) if tls and self._authority is not None else ()
        access.addresses = AddressMap(entries, trust)
        return access

    def _served_note(self, selected: Selected, server: LocalServer) -> str:
        datastore = selected.datastore
        parts = [f"{datastore.label} ({datastore.engine} {datastore.version}) served by {server.describe()}"]
        if datastore.db_name or datastore.master_user:
            parts.append(
                f"database {datastore.db_name or '(none)'}, master user {datastore.master_user} "
                f"(password from {datastore.password_source})"
            )
        if server.spec.setup_sql is not None:
            parts.append(
                f"ran {server.spec.setup_sql} as master user {datastore.master_user} (the operator's one-off setup)"
            )
        if datastore.iam_users:
            parts.append(f"IAM users {', '.join(datastore.iam_users)} (tokens not checked here)")
        if datastore.auth_token:
            parts.append("AUTH token from the state")
        if datastore.redis_users:
            parts.append(f"RBAC users {', '.join(u.name for u in datastore.redis_users)}")
        parts += list(datastore.notes)
        return "; ".join(parts)

    def _blockers(self, deployment: Deployment, source: Any, endpoint: Endpoint) -> list[str]:
        """Why the service may not open a connection to the endpoint (empty: it may), per the network model."""
        if source is None:
            return []  # not in the network model (no awsvpc configuration): nothing to decide with
        graph = deployment.network_graph
        target = _target(deployment, endpoint.network_id)
        if target is None:
            return []
        reach = graph.reach(Source.of_workload(source), target, endpoint.port)
        if not reach.reachable:
            return list(reach.blockers)
        if endpoint.behind is not None:
            behind = _target(deployment, endpoint.behind)
            if behind is not None and behind.ports:
                hop = graph.reach(Source.of_workload(target), behind, behind.ports[0])
                if not hop.reachable:
                    return [f"behind the proxy: {blocker}" for blocker in hop.blockers]
        return []

    # -- what checks ask the engine ---------------------------------------------------------------------------
    def facts(self, deployment: Deployment, identifier: str) -> EngineFacts | None:
        """What the local server of the datastore `identifier` says of itself (None: it is not asked for, or this
        machine cannot run it); raises DatastoreStartError for a server that cannot start."""
        for selected in self.select(deployment):
            if identifier in selected.datastore.names() and selected.runner.available:
                server = self._server(deployment, selected)
                return EngineFacts(selected.datastore, server.describe(), server.facts())
        return None

    def unavailable(self, deployment: Deployment, identifier: str) -> str | None:
        """Why the asked-for datastore `identifier` cannot run here (None: it can, or it is not asked for)."""
        for selected in self.select(deployment):
            if identifier in selected.datastore.names() and not selected.runner.available:
                return selected.runner.missing
        return None

    # -- the end ---------------------------------------------------------------------------------------------
    def close(self) -> list[str]:
        """End every server started; how each ended (said once: a second close returns nothing new)."""
        with self._lock:
            self.closed = True
            endings: list[str] = []
            for server in self._servers.values():
                try:
                    endings.append(server.stop())
                except Exception as exc:  # one server that will not stop must not keep the others running
                    endings.append(f"{server.describe()}: stopping failed: {exc}")
            self._servers.clear()
            if self.undeployed:
                endings.append(f"none started for {', '.join(self.undeployed)}: declared, but not deployed in this run")
                self.undeployed = []
            if self._authority is not None:
                import shutil

                shutil.rmtree(self._authority.directory, ignore_errors=True)
                self._authority = None
            self.endings += endings
            return endings


def _known(deployed: list[DeployedDatastore]) -> str:
    """The deployed datastores, for an error that names none of them."""
    return "; ".join(f"{d.label} ({d.engine} {d.version})" for d in deployed) or "none"


def _declared(deployment: Deployment, target: str) -> bool:
    """Whether `target` is a resource address the configuration declares (an instance key such as [0] aside)."""
    plan = deployment.plan
    return plan is not None and re.sub(r"\[[^\]]*\]$", "", target) in plan.declared_addresses()


def unserved_hint(labels: list[str]) -> str:
    """The remedy for a container given endpoints of datastores no local server serves ("" for none)."""
    if not labels:
        return ""
    return (
        f"remedy: its environment names {', '.join(labels)}, which nothing answers here (the emulator holds a record, "
        "not a server): run with --datastore auto, or --datastore ADDRESS=ENGINE, so a real server of the deployed "
        "engine stands behind it"
    )


def access_for(datastores: LocalDatastores | None, deployment: Deployment, workload: Workload) -> Access:
    """What the service's containers are given: the local datastores' addresses, or, without --datastore, nothing
    but the remedy when their environment names a deployed datastore."""
    if datastores is not None:
        return datastores.serve(deployment, workload)
    return Access(
        hint=unserved_hint([d.label for d in discover(deployment) if names_endpoint(deployment, workload, d)])
    )


def _default_factories() -> dict[str, Callable[..., LocalServer]]:
    from stackprobe.datastores.mysql import MysqlServer
    from stackprobe.datastores.postgres import PostgresServer
    from stackprobe.datastores.redis import RedisServer

    return {"postgres": PostgresServer, "mysql": MysqlServer, "mariadb": MysqlServer, "redis": RedisServer}
