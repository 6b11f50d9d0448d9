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


def test_a_major_may_be_installed_and_nothing_else_but_a_version() -> None:
    assert parse_request("aws_db_instance.main=postgres:installed") == DatastoreRequest(
        "aws_db_instance.main", "postgres", "installed"
    )
    assert parse_request("a=mysql:8.0").major == "8.0"
    with pytest.raises(DatastoreConfigError, match=r"'newest' is neither a major version .* nor `installed`"):
        parse_request("a=postgres:newest")


@pytest.mark.parametrize("value", ["a=postgres:installed", "a=postgres:16", "a=mysql:8.0", "a=redis:7", "a=redis"])
def test_settings_take_a_major_version_or_installed(value: str) -> None:
    assert normalise({"datastores": [value]}, origins=Origins(cli=Path.cwd())).checks.datastores == (value,)


@pytest.mark.parametrize("value", ["a=postgres:newest", "a=postgres:installed-ish", "a=postgres:v16", "a=redis:7:x"])
def test_settings_refuse_a_major_that_is_neither_a_version_nor_installed(value: str) -> None:
    with pytest.raises(
        SettingsError, match=r"--datastore .* is neither a major version \(15, 8\.0, 7\) nor `installed`"
    ):
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


PG = {
    major: HostServer("postgres", version, Path(f"/usr/lib/postgresql/{major}/bin"), "postgres")
    for major, version in (("9.6", "9.6.24"), ("13", "13.1"), ("15", "15.18"), ("16", "16.4"))
}


def test_the_newest_installed_major_is_compared_as_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "host_servers", lambda: (PG["9.6"], PG["16"], PG["13"]))
    assert engines.newest_installed("postgres") == "16"  # not "9.6", which sorts last as text
    assert engines.newest_installed("mysql") is None


def _selected(
    monkeypatch: pytest.MonkeyPatch, hosts: tuple[HostServer, ...], request: str, docker: bool = False
) -> Any:
    monkeypatch.setattr(engines, "host_servers", lambda: hosts)
    from stackprobe.datastores import parse_requests

    stores = LocalDatastores(parse_requests([request]), docker=docker, factories=FAKE_FACTORIES)
    (selected,) = stores.select(FakeDeployment())  # type: ignore[arg-type]
    return selected


def test_installed_runs_the_newest_major_the_host_has_and_the_evidence_says_it_differs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    selected = _selected(monkeypatch, (PG["13"], PG["16"]), "aws_db_instance.main=postgres:installed")
    assert (selected.runner.major, selected.runner.host) == ("16", PG["16"])  # 15.4 is deployed
    stores = LocalDatastores(
        [parse_request("aws_db_instance.main=postgres:installed")], docker=False, factories=FAKE_FACTORIES
    )
    access = stores.serve(FakeDeployment(), _workload({"DB_HOST": DB, "DB_PORT": "5432"}))  # type: ignore[arg-type]
    assert access.addresses.entries[(DB, 5432)].by == (
        "PostgreSQL 16.4 (/usr/lib/postgresql/16/bin/postgres) standing in for aws_db_instance.main, major 16 where 15 "
        "is deployed (the newest this machine has, as :installed asks)"
    )
    stores.close()


def test_installed_is_the_deployed_major_when_the_host_has_that_one_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    selected = _selected(monkeypatch, (PG["13"], PG["15"]), "shop-db=postgres:installed")
    assert (selected.runner.major, selected.runner.host) == ("15", PG["15"])


def test_installed_without_host_binaries_is_the_deployed_major_by_docker_else_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = _selected(monkeypatch, (), "shop-db=postgres:installed").runner
    assert (missing.major, missing.available) == ("15", False)
    assert "install postgresql-15" in missing.missing
    assert _selected(monkeypatch, (), "shop-db=postgres:installed", docker=True).runner.image == "postgres:15"


# -- the operator's setup SQL (--datastore-sql) --------------------------------------------------------------
def _deployed(identifier: str, engine: str, version: str, address: str) -> Any:
    from stackprobe.datastores.deployed import DeployedDatastore, Endpoint

    host = f"{identifier}.abc.eu-west-1.amazonaws.com"
    kind = "elasticache replication group" if engine == "redis" else "rds instance"
    return DeployedDatastore(
        kind, identifier, f"arn:{identifier}", address, engine, version, (Endpoint(host, 5432, "endpoint", "x"),),
        db_name=None if engine == "redis" else "shop", master_user=None if engine == "redis" else "shop_admin",
    )  # fmt: skip


MAIN = _deployed("shop-db", "postgres", "15.4", "aws_db_instance.main")
OTHER = _deployed("audit-db", "postgres", "15.4", "aws_db_instance.audit")
CACHE = _deployed("cache", "redis", "7.1", "aws_elasticache_replication_group.cache")


def _with_sql(monkeypatch: pytest.MonkeyPatch, requests: list[str], sql: list[tuple[str, str]]) -> LocalDatastores:
    monkeypatch.setattr(engines, "host_servers", lambda: (PG["15"],))
    from stackprobe.datastores import parse_requests

    return LocalDatastores(parse_requests(requests), docker=False, factories=FAKE_FACTORIES, setup_sql=sql)


def test_the_setup_sql_goes_to_the_datastore_it_names_and_the_evidence_says_it_ran_as_the_master(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stores = _with_sql(monkeypatch, ["auto"], [("shop-db", "/srv/roles.sql")])
    (selected,) = stores.select(FakeDeployment())  # type: ignore[arg-type]
    assert selected.setup_sql == Path("/srv/roles.sql")
    access = stores.serve(FakeDeployment(), _workload({"DB_HOST": DB, "DB_PORT": "5432"}))  # type: ignore[arg-type]
    assert stores._servers[selected.key].spec.setup_sql == Path("/srv/roles.sql")
    assert "ran /srv/roles.sql as master user shop_admin (the operator's one-off setup)" in access.notes[0]
    assert "setup SQL shop-db=/srv/roles.sql" in stores.describe()
    stores.close()


def test_without_setup_sql_the_server_runs_none(monkeypatch: pytest.MonkeyPatch) -> None:
    stores = _with_sql(monkeypatch, ["auto"], [])
    access = stores.serve(FakeDeployment(), _workload({"DB_HOST": DB, "DB_PORT": "5432"}))  # type: ignore[arg-type]
    assert all(server.spec.setup_sql is None for server in stores._servers.values())
    assert "operator's one-off setup" not in access.notes[0]
    stores.close()


@pytest.mark.parametrize(
    ("requests", "sql", "message", "remedy"),
    [
        (
            ["auto"],
            [("aws_db_instance.nothing", "/srv/roles.sql")],
            r"--datastore-sql aws_db_instance\.nothing=/srv/roles\.sql names no datastore the stack deployed\. "
            r"Deployed datastores: aws_db_instance\.main \(postgres 15\.4\); aws_db_instance\.audit .*; "
            r"aws_elasticache_replication_group\.cache \(redis 7\.1\)",
            "as --datastore does",
        ),
        (
            ["auto"],
            [("aws_elasticache_replication_group.cache", "/srv/roles.sql")],
            r"aws_elasticache_replication_group\.cache runs redis 7\.1, which takes no SQL",
            "only for a PostgreSQL or MySQL datastore",
        ),
        (
            ["aws_db_instance.main=postgres"],
            [("aws_db_instance.audit", "/srv/audit.sql")],
            r"no --datastore value selects aws_db_instance\.audit, so no local server runs the file",
            "add --datastore aws_db_instance.audit=postgres (or --datastore auto)",
        ),
        (
            ["auto"],
            [("shop-db", "/srv/a.sql"), ("aws_db_instance.main", "/srv/b.sql")],
            r"aws_db_instance\.main already has a setup file: --datastore-sql shop-db=/srv/a\.sql",
            "give one file per datastore",
        ),
    ],
    ids=["names-nothing", "redis", "not-selected", "two-files"],
)
def test_a_setup_sql_value_that_names_nothing_usable_is_an_input_error_naming_the_remedy(
    monkeypatch: pytest.MonkeyPatch, requests: list[str], sql: list[tuple[str, str]], message: str, remedy: str
) -> None:
    from stackprobe.errors import InputError

    stores = _with_sql(monkeypatch, requests, sql)
    with pytest.raises(DatastoreConfigError, match=message) as raised:
        stores.select(FakeDeployment(), [MAIN, OTHER, CACHE])  # type: ignore[arg-type]
    assert isinstance(raised.value, InputError) and remedy in raised.value.remedy


def test_a_value_naming_a_resource_declared_but_not_deployed_in_this_run_serves_nothing_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A project's configured datastore (its ini) meets a run whose variables deploy none of it (count 0: the
    LocalStack subset, a scenario without a database): nothing to serve, not bad input. A value naming nothing the
    configuration declares stays an error."""
    from stackprobe.datastores import parse_requests
    from stackprobe.terraform.plan import Plan

    monkeypatch.setattr(engines, "host_servers", lambda: (PG["15"],))
    configuration = {
        "root_module": {
            "module_calls": {"db": {"module": {"resources": [{"address": "aws_db_instance.main"}]}}},
        }
    }
    deployment = FakeDeployment(plan=Plan({"configuration": configuration}))
    sql = [("module.db.aws_db_instance.main[0]", "/srv/roles.sql")]
    stores = LocalDatastores(parse_requests(["module.db.aws_db_instance.main=postgres"]), docker=False, setup_sql=sql)
    assert stores.select(deployment, [CACHE]) == []  # type: ignore[arg-type]
    assert "declared but not deployed in this run, so not served: --datastore module.db.aws_db_instance.main" in (
        stores.describe()
    )
    assert stores.close() == [
        "none started for --datastore module.db.aws_db_instance.main=postgres, --datastore-sql "
        "module.db.aws_db_instance.main[0]=/srv/roles.sql: declared, but not deployed in this run"
    ]
    typo = LocalDatastores(parse_requests(["module.db.aws_db_instance.mian=postgres"]), docker=False)
    with pytest.raises(DatastoreConfigError, match="names no datastore the stack deployed"):
        typo.select(deployment, [CACHE])  # type: ignore[arg-type]


def test_the_same_file_named_twice_for_one_datastore_is_one_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    stores = _with_sql(monkeypatch, ["auto"], [("shop-db", "/srv/a.sql"), ("aws_db_instance.main", "/srv/a.sql")])
    chosen = {s.datastore.identifier: s.setup_sql for s in stores.select(FakeDeployment(), [MAIN, OTHER])}  # type: ignore[arg-type]
    assert chosen == {"shop-db": Path("/srv/a.sql"), "audit-db": None}


@pytest.mark.parametrize("failed", [None, ["aws_db_instance.main"]], ids=["applied", "apply-failed-part-way"])
def test_a_datastore_value_naming_nothing_usable_stops_the_run_before_any_check(
    monkeypatch: pytest.MonkeyPatch, failed: list[str] | None
) -> None:
    """The verify flow asks the selection once before the checks: a bad --datastore or --datastore-sql value is the
    run's input error (NOT RUN), not one check's error. After a failed apply, what it names may be what the apply
    did not create: the checks judge then, as before."""
    from stackprobe.lifecycle import verify
    from stackprobe.report.model import RunReport
    from stackprobe.settings import CheckSettings

    refused = DatastoreConfigError("--datastore-sql x=/srv/r.sql names no datastore the stack deployed", "name one")

    def select(deployment: Any) -> None:
        raise refused

    context = SimpleNamespace(
        decision=SimpleNamespace(describe=lambda: "production"),
        container_commands={},
        datastores=SimpleNamespace(select=select),
    )
    monkeypatch.setattr(verify, "build_context", lambda deployed, settings: context)
    monkeypatch.setattr(verify, "unapplied_resources", lambda *args: ())
    ran: list[Any] = []

    def run_checks(ctx: Any, selected: Any) -> list[Any]:
        ran.append(ctx)
        return []

    monkeypatch.setattr(verify, "run_checks", run_checks)
    monkeypatch.setattr(verify, "end_datastores", lambda deployments: [])
    deployed = SimpleNamespace(owner=None, plan=None)
    steps = verify._Steps(RunReport("verify", "stack", "moto"), say=lambda line: None)
    if failed is None:
        with pytest.raises(DatastoreConfigError):
            verify._judge(deployed, steps, [], CheckSettings(), failed)  # type: ignore[arg-type]
        assert ran == []
    else:
        monkeypatch.setattr(verify, "replace", lambda ctx, **changes: ctx)
        context.state_resources = lambda: ()  # type: ignore[attr-defined]
        verify._judge(deployed, steps, [], CheckSettings(), failed)  # type: ignore[arg-type]
        assert ran == [context]


def test_the_operator_runs_psql_as_the_master_over_tcp_with_tls_and_the_password_in_the_environment() -> None:
    from stackprobe.datastores import mysql, postgres

    spec = ServerSpec("db", db_name="shop", master_user="shop_admin", master_password="pw", tls=True)
    command, env = postgres.setup_command("/pg/bin/psql", 6000, spec, Path("/srv/roles.sql"))
    assert command == [
        "/pg/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "6000",
        "-U", "shop_admin", "-d", "shop", "-f", "/srv/roles.sql",
    ]  # fmt: skip
    assert env["PGPASSWORD"] == "pw" and env["PGSSLMODE"] == "require" and "pw" not in command
    plain = postgres.setup_command("psql", 1, ServerSpec("db", master_user="m", master_password="p"), Path("f"))
    assert plain[1]["PGSSLMODE"] == "prefer" and plain[0][-3:] == ["postgres", "-f", "f"]  # no db_name: postgres

    command, env = mysql.setup_command("/usr/bin/mysql", 3307, spec, Path("/srv/roles.sql"))
    assert command == [
        "/usr/bin/mysql", "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", "3307", "-u", "shop_admin",
        "--batch", "--ssl-mode=REQUIRED", "--database=shop",
    ]  # fmt: skip
    assert env == {"MYSQL_PWD": "pw"}
    assert "--ssl" in mysql.setup_command("mariadb", 1, spec, Path("f"), mariadb=True)[0]


@pytest.mark.parametrize(
    ("said", "remedy"),
    [
        (
            'ERROR:  permission denied to set parameter "work_mem"',
            "as-is",
        ),  # the file's to fix: as run_as_operator says
        ('ERROR:  permission denied to create extension "pg_stat_statements"', "SHOW rds.extensions"),
        ('ERROR:  extension "postgis" is not available', "install the extension postgis for PostgreSQL 15"),
    ],
    ids=["privilege", "untrusted-extension", "extension-not-installed-here"],
)
def test_a_failing_setup_sql_gets_the_remedy_of_its_cause(
    monkeypatch: pytest.MonkeyPatch, said: str, remedy: str
) -> None:
    """A statement the master may not run is the file's to fix; an extension RDS lets rds_superuser create, or one
    this machine lacks, is the local server's difference, and the remedy says so."""
    from stackprobe.datastores.postgres import PostgresServer
    from stackprobe.datastores.servers import DatastoreStartError

    def refused(*args: Any, **kwargs: Any) -> str:
        raise DatastoreStartError(f"--datastore-sql: running /srv/r.sql ... failed: psql:/srv/r.sql:2: {said}", "as-is")

    spec = ServerSpec(
        "db", db_name="shop", master_user="shop_admin", master_password="pw", setup_sql=Path("/srv/r.sql")
    )
    server = PostgresServer(spec, PG["15"], 6000)
    monkeypatch.setattr(server, "run_as_operator", refused)
    with pytest.raises(DatastoreStartError) as raised:
        server._run_setup(Path("/srv/r.sql"))
    assert f"psql:/srv/r.sql:2: {said}" in raised.value.problem
    assert remedy in raised.value.remedy


def test_the_container_plan_mounts_the_setup_sql_and_runs_it_as_the_master() -> None:
    spec = ServerSpec(
        "db", db_name="shop", master_user="shop_admin", master_password="pw", setup_sql=Path("/srv/r.sql")
    )
    plan = plan_for(spec, Runner("postgres", "16", image="postgres:16"), "root-pw")
    assert plan.mounts == (("/srv/r.sql", "/stackprobe-setup/r.sql"),)
    assert plan.operator == (
        "env", "PGPASSWORD=pw", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
        "-U", "shop_admin", "-d", "shop", "-f", "/stackprobe-setup/r.sql",
    )  # fmt: skip
    assert not any("/srv/r.sql" in " ".join(argv) for argv in plan.setup)  # the bootstrap is the admin's, not it
    mysql = plan_for(spec, Runner("mysql", "8.0", image="mysql:8.0"), "root-pw")
    assert mysql.operator[:3] == ("env", "MYSQL_PWD=pw", "sh")
    assert mysql.operator[-1] == (
        "exec mysql --no-defaults --protocol=TCP -h 127.0.0.1 -u shop_admin --batch --database=shop "
        "< /stackprobe-setup/r.sql"
    )
    assert plan_for(ServerSpec("db"), Runner("postgres", "16", image="postgres:16"), "x").operator == ()
    from stackprobe.datastores.servers import DatastoreStartError

    with pytest.raises(DatastoreStartError, match="runs redis, which runs no SQL"):
        plan_for(ServerSpec("cache", setup_sql=Path("/srv/r.sql")), Runner("redis", "7", image="redis:7"), "x")


def test_a_setup_sql_failing_in_a_container_names_the_file_here_and_its_line_and_removes_the_container() -> None:
    from stackprobe.datastores.containers import ContainerServer
    from stackprobe.datastores.servers import DatastoreStartError

    spec = ServerSpec(
        "db", db_name="shop", master_user="shop_admin", master_password="pw", setup_sql=Path("/srv/r.sql")
    )
    runner = Runner("postgres", "16", image="postgres:16")
    server = ContainerServer(spec, runner, plan_for(spec, runner, "root-pw"))
    said = b'psql:/stackprobe-setup/r.sql:3: ERROR:  permission denied to set parameter "work_mem"\n'
    stopped: list[bool] = []
    server.container = SimpleNamespace(
        exec=lambda argv: SimpleNamespace(exit_code=3, output=said), stop=lambda: stopped.append(True)
    )
    with pytest.raises(DatastoreStartError) as raised:
        server._run_operator()
    message = str(raised.value)
    assert "running /srv/r.sql as master user shop_admin in the container postgres:16" in message
    assert 'psql:/srv/r.sql:3: ERROR:  permission denied to set parameter "work_mem"' in message
    server.stop()
    assert stopped == [True] and server.container is None


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


FAKE_FACTORIES: dict[str, Any] = {"postgres": FakeServer}


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
    plan: Any = None

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

    return LocalDatastores(parse_requests(requests), docker=False, factories=FAKE_FACTORIES)


def test_a_service_the_database_admits_is_given_the_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    stores = _datastores(monkeypatch, ["auto"])
    access = stores.serve(FakeDeployment(), _workload({"DB_HOST": DB, "DB_PORT": "5432"}))  # type: ignore[arg-type]
    served = access.addresses.entries[(DB, 5432)]
    assert served.by == "PostgreSQL 15.18 (/pg/bin/postgres) standing in for aws_db_instance.main"
    assert "database shop, master user shop_admin (password from the secret RDS manages" in access.notes[0]
    assert stores.close() == [f"fake postgres on {served.port}: stopped"]


def test_a_service_the_database_does_not_admit_is_refused_with_the_blockers(monkeypatch: pytest.MonkeyPatch) -> None:
    stores = _datastores(monkeypatch, ["auto"])
    blocked = FakeDeployment(blockers=("no ingress rule of sg-db admits sg-web on 5432",))
    access = stores.serve(blocked, _workload({"DB_HOST": DB, "DB_PORT": "5432"}))  # type: ignore[arg-type]
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
    access = stores.serve(FakeDeployment(), _workload({"DB_HOST": DB}))  # type: ignore[arg-type]
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
