"""The datastores' logic without a server: requests, engines and majors, rewriting, SQL and config, the container
plan (the testcontainers path, tested here without Docker), and who is given which address.

Reproduce: .venv/bin/pytest tests/harness/test_datastores_units.py -q -n 0 -p no:cacheprovider
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackprobe.aws.readers.rds import DbInstance
from stackprobe.datastores import (
    DatastoreConfigError,
    DatastoreRequest,
    LocalDatastores,
    access_for,
    engines,
    parse_request,
)
from stackprobe.datastores.containers import plan_for
from stackprobe.datastores.engines import Family, HostServer, Runner, family_of, major_of, runner_for
from stackprobe.datastores.postgres import bootstrap_sql, hba_lines, identifier, literal
from stackprobe.datastores.redis import acl_line, config_string
from stackprobe.datastores.servers import RedisUser, ServerSpec
from stackprobe.probes.addresses import AddressMap, Served, port_variable
from stackprobe.settings import Origins, SettingsError, normalise

pytestmark = pytest.mark.harness


# -- requests ---------------------------------------------------------------------------------------------
def test_a_request_is_auto_or_an_address_with_an_engine_and_optionally_a_major() -> None:
    assert parse_request("auto") == DatastoreRequest("auto")
    assert parse_request("module.db.aws_db_instance.main[0]=postgres") == DatastoreRequest(
        "module.db.aws_db_instance.main[0]", "postgres"
    )
    assert parse_request("aws_db_instance.main=postgres:15") == DatastoreRequest(
        "aws_db_instance.main", "postgres", "15"
    )
    with pytest.raises(DatastoreConfigError, match="neither `auto` nor ADDRESS=ENGINE"):
        parse_request("aws_db_instance.main=oracle")


@pytest.mark.parametrize("value", ["postgres", "=postgres", "x=memcached", "autox"])
def test_settings_refuse_a_datastore_value_that_is_neither_auto_nor_address_engine(value: str) -> None:
    with pytest.raises(SettingsError, match="--datastore"):
        normalise({"datastores": [value]}, origins=Origins(cli=Path.cwd()))


def test_settings_keep_each_datastore_value_once_in_order() -> None:
    settings = normalise({"datastores": ["auto", "a.b=redis", "auto"]}, origins=Origins(cli=Path.cwd()))
    assert settings.checks.datastores == ("auto", "a.b=redis")


# -- engines -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("engine", "version", "family", "major"),
    [
        ("postgres", "15.4", Family.POSTGRES, "15"),
        ("postgres", "16", Family.POSTGRES, "16"),
        ("postgres", "9.6.24", Family.POSTGRES, "9.6"),
        ("aurora-postgresql", "15.4", Family.POSTGRES, "15"),
        ("mysql", "8.0.35", Family.MYSQL, "8.0"),
        ("aurora-mysql", "8.0.mysql_aurora.3.05.2", Family.MYSQL, "8.0"),
        ("mariadb", "10.11.6", Family.MYSQL, "10.11"),
        ("redis", "7.0", Family.REDIS, "7"),
        ("valkey", "7.2", Family.REDIS, "7"),
    ],
)
def test_a_deployed_engine_has_a_family_and_the_major_that_must_match(
    engine: str, version: str, family: Family, major: str
) -> None:
    assert family_of(engine) is family
    assert major_of(family, version) == major


def test_memcached_has_no_local_server() -> None:
    assert family_of("memcached") is None


def test_an_engine_the_host_cannot_run_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    host_15 = HostServer("postgres", "15.18", Path("/usr/lib/postgresql/15/bin"), "postgres")
    monkeypatch.setattr(engines, "host_servers", lambda: (host_15,))
    assert runner_for("postgres", "15", docker=False).host == host_15
    missing = runner_for("postgres", "16", docker=False)
    assert not missing.available
    assert "postgresql-16" in missing.missing and "PostgreSQL 15.18" in missing.missing
    assert "Docker" in missing.missing
    assert "redis-server" in runner_for("redis", "7", docker=False).missing
    assert "Debian ships only MariaDB" in runner_for("mysql", "8.0", docker=False).missing
    # Where a Docker engine answers, the image of the deployed major runs it.
    assert runner_for("postgres", "16", docker=True).image == "postgres:16"


# -- rewriting ------------------------------------------------------------------------------------------------
DB = "shop-db.abc.eu-west-1.rds.amazonaws.com"
SERVED = Served("127.0.0.1", 6000, "PostgreSQL 15 standing in for aws_db_instance.main")


def test_a_host_alone_is_rewritten_with_the_port_variable_beside_it() -> None:
    env, notes = AddressMap({(DB, 5432): SERVED}).rewrite({"DB_HOST": DB, "DB_PORT": "5432", "OTHER": "x"})
    assert env == {"DB_HOST": "127.0.0.1", "DB_PORT": "6000", "OTHER": "x"}
    assert notes == [f"DB_HOST, DB_PORT: {DB}:5432 → 127.0.0.1:6000 ({SERVED.by})"]


def test_a_host_with_no_port_variable_says_the_default_port_misses_the_local_server() -> None:
    env, notes = AddressMap({(DB, 5432): SERVED}).rewrite({"DATABASE": DB})
    assert env == {"DATABASE": "127.0.0.1"}
    assert "no port variable beside it" in notes[0] and "6000" in notes[0]


def test_a_host_and_port_inside_a_json_secret_are_rewritten_and_named_not_shown() -> None:
    secret = json.dumps({"username": "app", "password": "s3cr3t", "host": DB, "port": 5432})
    env, notes = AddressMap({(DB, 5432): SERVED}).rewrite({"DB_SECRET": secret})
    assert json.loads(env["DB_SECRET"]) == {"username": "app", "password": "s3cr3t", "host": "127.0.0.1", "port": 6000}
    assert notes == [f"DB_SECRET (JSON fields host, port): {DB}:5432 → 127.0.0.1:6000 ({SERVED.by})"]
    assert "s3cr3t" not in " ".join(notes)


def test_a_url_and_a_list_of_hosts_are_rewritten() -> None:
    replica = "shop-replica.abc.eu-west-1.rds.amazonaws.com"
    addresses = AddressMap({(DB, 5432): SERVED, (replica, 5432): SERVED})
    env, _ = addresses.rewrite({"URL": f"postgresql://u:p@{DB}:5432/shop", "DB_READ_HOSTS": f"{replica},{replica}"})
    assert env == {"URL": "postgresql://u:p@127.0.0.1:6000/shop", "DB_READ_HOSTS": "127.0.0.1,127.0.0.1"}


def test_a_port_variable_is_found_beside_each_spelling_of_a_host_variable() -> None:
    env = {"PGPORT": "1", "REDIS_PORT": "1", "cache_port": "1"}
    assert port_variable("PGHOST", env) == "PGPORT"
    assert port_variable("REDIS_HOSTNAME", env) == "REDIS_PORT"
    assert port_variable("cache_host", env) == "cache_port"
    assert port_variable("DB_HOST", env) is None


def test_merged_maps_keep_each_trusted_authority_once() -> None:
    merged = AddressMap(trust=("a.pem",)).merged(AddressMap(trust=("a.pem", "b.pem")))
    assert merged.trust == ("a.pem", "b.pem")


# -- SQL and configuration ------------------------------------------------------------------------------------
def test_the_bootstrap_makes_what_rds_makes_quoted() -> None:
    statements = bootstrap_sql("shop", 'odd"user', "it's")
    assert "CREATE ROLE \"odd\"\"user\" LOGIN CREATEDB CREATEROLE PASSWORD 'it''s' IN ROLE rds_superuser" in statements
    assert 'CREATE DATABASE "shop" OWNER "odd""user"' in statements
    assert 'CREATE ROLE "rds_iam" NOLOGIN' in statements
    assert not any("SUPERUSER" in s or "EXTENSION" in s for s in statements)
    assert identifier("a") == '"a"' and literal("a'b") == "'a''b'"


def test_iam_users_log_in_without_a_password_check_and_tls_is_required_when_asked() -> None:
    lines = hba_lines(("app",), tls=True)
    assert 'hostssl all "app" 127.0.0.1/32 trust' in lines
    assert lines[-1] == "hostssl all all 127.0.0.1/32 scram-sha-256"
    assert not any(line.startswith("host ") for line in lines)


def test_redis_users_keep_their_access_strings() -> None:
    assert (
        acl_line(RedisUser("app", "on ~* +@all -@dangerous", iam=True))
        == "user app reset on ~* +@all -@dangerous nopass"
    )
    assert acl_line(RedisUser("ops", "on ~* +@all", passwords=("pw1",))) == "user ops reset on ~* +@all >pw1"
    assert config_string('a"b\\c') == '"a\\"b\\\\c"'


def test_the_container_plan_creates_what_the_host_path_creates() -> None:
    spec = ServerSpec("db", db_name="shop", master_user="admin", master_password="pw", max_connections=99, tls=True)
    plan = plan_for(spec, Runner("postgres", "16", image="postgres:16"), "root-pw")
    assert plan.image == "postgres:16" and plan.port == 5432
    assert "max_connections=99" in plan.command
    assert "CREATE DATABASE" in plan.setup[0][-1] and "rds_superuser" in plan.setup[0][-1]
    assert plan.limits == ("TLS is not served by a container here: clients connect without it",)
    redis = plan_for(ServerSpec("cache", auth_token="tok"), Runner("redis", "7", image="redis:7"), "x")
    assert redis.command[-2:] == ("--requirepass", "tok")
    mysql = plan_for(
        ServerSpec("db", db_name="shop", master_user="admin", master_password="pw"),
        Runner("mysql", "8.0", image="mysql:8.0"),
        "r",
    )
    assert mysql.environment == {"MYSQL_ROOT_PASSWORD": "r"} and "CREATE DATABASE `shop`" in mysql.setup[0][-1]


# -- who is given what --------------------------------------------------------------------------------------
@dataclass
class FakeServer:
    spec: ServerSpec
    host: HostServer
    port: int
    authority: Any = None
    started: bool = False
    stopped: bool = False

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def describe(self) -> str:
        return f"fake {self.host.flavour} on {self.port}"

    def start(self) -> None:
        self.started = True

    def stop(self) -> str:
        self.stopped = True
        return f"{self.describe()}: stopped"

    def facts(self) -> dict[str, str]:
        return {"max_connections": str(self.spec.max_connections), "superuser_reserved_connections": "3"}


@dataclass
class Reach:
    blockers: tuple[str, ...] = ()

    @property
    def reachable(self) -> bool:
        return not self.blockers


@dataclass
class FakeDeployment:
    """Just what discovery and access read: one PostgreSQL instance, one ECS service, and the network's answer."""

    blockers: tuple[str, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        instance = DbInstance(
            {
                "DBInstanceIdentifier": "shop-db",
                "DBInstanceArn": "arn:db",
                "Engine": "postgres",
                "EngineVersion": "15.4",
                "DBInstanceClass": "db.t4g.micro",
                "Endpoint": {"Address": DB, "Port": 5432},
                "DBName": "shop",
                "MasterUsername": "shop_admin",
                "MasterUserSecret": {"SecretArn": "arn:secret"},
            }
        )
        empty: Any = lambda: ()  # noqa: E731
        self.account = SimpleNamespace(
            rds=SimpleNamespace(instances=lambda: (instance,), clusters=empty, proxies=empty, proxy_records=empty),
            elasticache=SimpleNamespace(cache_clusters=empty, replication_groups=empty),
            secretsmanager=SimpleNamespace(secret_string=lambda arn: '{"username": "shop_admin", "password": "pw"}'),
        )
        service = SimpleNamespace(id="arn:service", other_ids=())
        database = SimpleNamespace(id="arn:db", other_ids=(), ports=(5432,))
        self.network_graph = SimpleNamespace(
            network=SimpleNamespace(workloads=[service, database]), reach=lambda *args: Reach(self.blockers)
        )

    def address_for(self, *identifiers: str | None) -> str | None:
        return "aws_db_instance.main" if "arn:db" in identifiers else None


def _workload(environment: dict[str, str]) -> Any:
    container = {"name": "web", "environment": [{"name": k, "value": v} for k, v in environment.items()]}
    return SimpleNamespace(
        arn="arn:service",
        name="web",
        containers=[container],
        environment=lambda c: {e["name"]: e["value"] for e in c["environment"]},
        secret_sources=lambda: {},
    )


def _datastores(monkeypatch: pytest.MonkeyPatch, requests: list[str]) -> LocalDatastores:
    host = HostServer("postgres", "15.18", Path("/pg/bin"), "postgres")
    monkeypatch.setattr(engines, "host_servers", lambda: (host,))
    from stackprobe.datastores import parse_requests

    return LocalDatastores(parse_requests(requests), docker=False, factories={"postgres": FakeServer})


def test_a_service_the_database_admits_is_given_the_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    stores = _datastores(monkeypatch, ["auto"])
    access = stores.serve(FakeDeployment(), _workload({"DB_HOST": DB, "DB_PORT": "5432"}))
    served = access.addresses.entries[(DB, 5432)]
    assert served.by == "PostgreSQL 15.18 (/pg/bin/postgres) standing in for aws_db_instance.main"
    assert "database shop, master user shop_admin (password from the secret RDS manages" in access.notes[0]
    assert stores.close() == [f"fake postgres on {served.port}: stopped"]


def test_a_service_the_database_does_not_admit_is_refused_with_the_blockers(monkeypatch: pytest.MonkeyPatch) -> None:
    stores = _datastores(monkeypatch, ["auto"])
    blocked = FakeDeployment(blockers=("no ingress rule of sg-db admits sg-web on 5432",))
    access = stores.serve(blocked, _workload({"DB_HOST": DB, "DB_PORT": "5432"}))
    served = access.addresses.entries[(DB, 5432)]
    assert served.by.startswith("nothing listens: web may not reach aws_db_instance.main's endpoint")
    assert "no ingress rule of sg-db admits sg-web on 5432" in served.by
    assert any("refused to web by the security groups" in note for note in access.notes)
    stores.close()


def test_without_a_datastore_a_service_given_an_endpoint_is_told_the_remedy() -> None:
    access = access_for(None, FakeDeployment(), _workload({"DB_HOST": DB}))  # type: ignore[arg-type]
    assert "--datastore auto" in access.hint and "aws_db_instance.main" in access.hint
    assert access_for(None, FakeDeployment(), _workload({"X": "y"})).hint == ""  # type: ignore[arg-type]


def test_an_engine_the_host_cannot_run_leaves_the_service_unserved_naming_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engines, "host_servers", lambda: ())
    stores = LocalDatastores([DatastoreRequest("auto")], docker=False)
    access = stores.serve(FakeDeployment(), _workload({"DB_HOST": DB}))
    assert access.unavailable and "install postgresql-15" in access.unavailable[0]
    assert stores.unavailable(FakeDeployment(), "shop-db") is not None  # type: ignore[arg-type]


def test_a_request_that_names_nothing_deployed_or_another_engine_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatastoreConfigError, match=r"names no datastore the stack deployed.*aws_db_instance\.main"):
        _datastores(monkeypatch, ["aws_db_instance.other=postgres"]).select(FakeDeployment())  # type: ignore[arg-type]
    with pytest.raises(DatastoreConfigError, match=r"runs postgres 15\.4, not redis"):
        _datastores(monkeypatch, ["aws_db_instance.main=redis"]).select(FakeDeployment())  # type: ignore[arg-type]


def test_the_engine_is_asked_for_its_facts_through_the_same_server(monkeypatch: pytest.MonkeyPatch) -> None:
    stores = _datastores(monkeypatch, ["shop-db=postgres"])
    stores.connection_limit = lambda deployment, datastore: 87
    facts = stores.facts(FakeDeployment(), "shop-db")  # type: ignore[arg-type]
    assert facts is not None and facts.values["max_connections"] == "87"
    assert stores.facts(FakeDeployment(), "nothing") is None  # type: ignore[arg-type]
    stores.close()


# -- the connection budget, read from the engine ----------------------------------------------------------------
def test_the_connection_budget_reads_what_the_running_engine_gives_non_superusers() -> None:
    from stackprobe.checks.database import _engine_limit
    from stackprobe.checks.rds_capacity import MaxConnections
    from stackprobe.datastores import EngineFacts

    db = DbInstance({"DBInstanceIdentifier": "shop-db"})
    modelled = MaxConnections(901, "engine default formula")
    facts = EngineFacts(
        SimpleNamespace(),  # type: ignore[arg-type]
        "PostgreSQL 15.18 on 127.0.0.1:5999",
        {"max_connections": "901", "superuser_reserved_connections": "3"},
    )
    stores = SimpleNamespace(facts=lambda ctx, identifier: facts, unavailable=lambda ctx, identifier: None)
    limit = _engine_limit(SimpleNamespace(datastores=stores), db, modelled)  # type: ignore[arg-type]
    assert limit.value == 898
    assert limit.source == (
        "read from the engine: PostgreSQL 15.18 on 127.0.0.1:5999 runs with max_connections 901 "
        "(engine default formula), less 3 reserved for superusers"
    )
    missing = SimpleNamespace(facts=lambda ctx, identifier: None, unavailable=lambda ctx, identifier: "install it")
    fallback = _engine_limit(SimpleNamespace(datastores=missing), db, modelled)  # type: ignore[arg-type]
    assert (fallback.value, fallback.source) == (901, "engine default formula; not read from the engine: install it")
    assert _engine_limit(SimpleNamespace(datastores=None), db, modelled) is modelled  # type: ignore[arg-type]
