"""Real local servers, as `--datastore` starts them: created as the stack creates the datastore, nothing more.

One PostgreSQL and one Redis serve the module (a PostgreSQL costs about 2 s of CPU to create). A server that
cannot start leaves nothing running and no data directory, and its error names the log it kept. A migration
that needs what only its own database creation made (an extension) fails here, as on RDS.

Reproduce: .venv/bin/pytest tests/harness/test_datastores_servers.py -q -n 0 -p no:cacheprovider
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from stackprobe.datastores.containers import ContainerServer, plan_for
from stackprobe.datastores.engines import docker_available, host_servers, runner_for
from stackprobe.datastores.mysql import MysqlServer
from stackprobe.datastores.postgres import PostgresServer
from stackprobe.datastores.redis import RedisServer, command
from stackprobe.datastores.servers import DatastoreStartError, RedisUser, ServerSpec
from stackprobe.datastores.tls import LocalAuthority
from stackprobe.probes.process import free_port

pytestmark = pytest.mark.harness


def _host(flavour: str) -> object:
    return next((server for server in host_servers() if server.flavour == flavour), None)


POSTGRES = _host("postgres")
REDIS = _host("redis")
needs_postgres = pytest.mark.skipif(POSTGRES is None, reason="no PostgreSQL binaries here (install postgresql)")
needs_redis = pytest.mark.skipif(REDIS is None, reason="no redis-server here (install redis-server)")


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> LocalAuthority:
    return LocalAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def postgres(authority: LocalAuthority) -> Iterator[PostgresServer]:
    if POSTGRES is None:
        pytest.skip("no PostgreSQL binaries here (install postgresql)")
    spec = ServerSpec(
        "aws_db_instance.main (postgres 15)",
        ("shop-db.abc.eu-west-1.rds.amazonaws.com",),
        db_name="shop",
        master_user="shop_admin",
        master_password="pa'ss\"w@rd",
        iam_users=("app_iam",),
        max_connections=57,
        tls=True,
    )
    server = PostgresServer(spec, POSTGRES, free_port(), authority)  # type: ignore[arg-type]
    server.start()
    yield server
    server.stop()


def _connect(server: PostgresServer, user: str, password: str | None, sslmode: str = "require") -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1",
        port=server.port,
        dbname="shop",
        user=user,
        password=password,
        sslmode=sslmode,
        connect_timeout=5,
        autocommit=True,
    )


def test_the_master_logs_in_over_tls_and_owns_the_database_without_being_a_superuser(postgres: PostgresServer) -> None:
    with _connect(postgres, "shop_admin", "pa'ss\"w@rd") as connection:
        row = connection.execute(
            "SELECT current_user, rolsuper, pg_has_role('rds_superuser', 'MEMBER'), "
            "(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) "
            "FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == ("shop_admin", False, True, "shop_admin")


def test_only_tls_connections_are_accepted_as_rds_postgres_15_requires(postgres: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        _connect(postgres, "shop_admin", "pa'ss\"w@rd", sslmode="disable")


def test_a_wrong_password_is_refused(postgres: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(postgres, "shop_admin", "wrong")


def test_an_iam_user_logs_in_with_any_token_once_an_administrator_made_it(postgres: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match='role "app_iam" does not exist'):
        _connect(postgres, "app_iam", "an-iam-token")
    with _connect(postgres, "shop_admin", "pa'ss\"w@rd") as admin:
        admin.execute("CREATE ROLE app_iam LOGIN")
        admin.execute("GRANT rds_iam TO app_iam")
    with _connect(postgres, "app_iam", "an-iam-token") as connection:
        assert connection.execute("SELECT current_user").fetchone() == ("app_iam",)


def test_max_connections_is_the_deployed_instances_and_the_engine_says_so(postgres: PostgresServer) -> None:
    facts = postgres.facts()
    assert facts["max_connections"] == "57"
    assert facts["superuser_reserved_connections"] == "3"
    assert facts["server_version"].startswith(POSTGRES.version)  # type: ignore[attr-defined]


def test_a_migration_that_needs_an_extension_it_never_creates_fails_as_on_rds(postgres: PostgresServer) -> None:
    """The database is made as RDS makes it, from db_name: no extension beyond plpgsql. A migration that relies on
    one its own `CREATE DATABASE` script made fails here; one that creates it (as the master may) passes."""
    with _connect(postgres, "shop_admin", "pa'ss\"w@rd") as connection:
        with pytest.raises(psycopg.errors.UndefinedFunction, match="uuid_generate_v4"):
            connection.execute("CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT uuid_generate_v4())")
        connection.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"')
        connection.execute("CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT uuid_generate_v4())")
        connection.execute("INSERT INTO orders DEFAULT VALUES")
        assert connection.execute("SELECT count(*) FROM orders").fetchone() == (1,)


@needs_postgres
def test_an_initialisation_the_engine_refuses_leaves_nothing_and_names_the_log(tmp_path: Path) -> None:
    # PostgreSQL reserves role names starting with pg_: the bootstrap fails on the engine's own refusal.
    spec = ServerSpec("aws_db_instance.bad (postgres 15)", db_name="shop", master_user="pg_admin", master_password="x")
    server = PostgresServer(spec, POSTGRES, free_port(), keep_logs_in=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(DatastoreStartError) as raised:
        server.start()
    message = str(raised.value)
    assert "reserved" in message and f"Its log: {tmp_path}" in message
    assert not server.work.exists()
    assert server.process is not None and server.process.poll() is not None
    assert list(tmp_path.glob("stackprobe-postgres-*.log"))


def _setup_spec(file: Path) -> ServerSpec:
    return ServerSpec(
        "aws_db_instance.main (postgres 15)",
        ("shop-db.abc.eu-west-1.rds.amazonaws.com",),
        db_name="shop",
        master_user="shop_admin",
        master_password="pa'ss\"w@rd",
        tls=True,
        setup_sql=file,
    )


@needs_postgres
def test_the_operators_setup_sql_runs_as_the_master_and_what_it_creates_is_there(
    tmp_path: Path, authority: LocalAuthority
) -> None:
    """--datastore-sql: the file runs as the master user (over TLS, with its password) into db_name, not as the
    internal superuser: what it creates is the master's, and the role it grants exists afterwards."""
    file = tmp_path / "roles.sql"
    file.write_text(
        "CREATE ROLE app_user LOGIN PASSWORD 'app-pw';\n"
        "GRANT CONNECT ON DATABASE shop TO app_user;\n"
        "CREATE SCHEMA app;\n"
        "GRANT USAGE ON SCHEMA app TO app_user;\n"
        "CREATE TABLE app.orders (id int);\n"
        "GRANT SELECT ON app.orders TO app_user;\n"
    )
    server = PostgresServer(_setup_spec(file), POSTGRES, free_port(), authority)  # type: ignore[arg-type]
    server.start()
    try:
        assert server.sql("SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'app_user'") == (
            "app_user\tt\tf\n"
        )
        ran_as = "SELECT tableowner, current_database() FROM pg_tables WHERE tablename = 'orders'"
        assert server.sql(ran_as) == "shop_admin\tshop\n"  # the master's, in db_name: not rdsadmin's
        with _connect(server, "app_user", "app-pw") as connection:
            assert connection.execute("SELECT count(*) FROM app.orders").fetchone() == (0,)
        assert f"{file} (as master user shop_admin)" in server.log.read_text()
    finally:
        server.stop()
    assert not server.work.exists()


@needs_postgres
def test_setup_sql_the_rds_master_may_not_run_fails_naming_the_file_and_line_and_leaves_nothing(
    tmp_path: Path, authority: LocalAuthority
) -> None:
    file = tmp_path / "setup.sql"
    file.write_text(
        "CREATE ROLE app_user LOGIN;\n"
        "-- RDS sets parameters in a parameter group; its master is no superuser:\n"
        "ALTER SYSTEM SET work_mem = '64MB';\n"
        "CREATE ROLE never_made;\n"
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    server = PostgresServer(_setup_spec(file), POSTGRES, free_port(), authority, keep_logs_in=logs)  # type: ignore[arg-type]
    try:
        with pytest.raises(DatastoreStartError) as raised:
            server.start()
    finally:
        if server.process is not None and server.process.poll() is None:
            server.stop()  # it started after all (the test fails): leave no server behind
    message = str(raised.value)
    assert f"--datastore-sql: running {file} as master user shop_admin" in message
    assert f"psql:{file}:3: ERROR:" in message  # the client's own message, its line kept
    assert "fails on RDS too" in raised.value.remedy
    (kept,) = logs.glob("stackprobe-postgres-*.log")
    assert f"Its log: {kept}" in message
    assert not server.work.exists()
    assert server.process is not None and server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.process.pid, 0)  # nothing of its process group is left running


@needs_redis
def test_a_port_already_taken_is_an_error_naming_the_log_with_nothing_left(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = RedisServer(ServerSpec("cache"), REDIS, port, keep_logs_in=tmp_path)  # type: ignore[arg-type]
        with pytest.raises(DatastoreStartError, match="exited at start") as raised:
            server.start()
    assert "Address already in use" in str(raised.value) and "Its log:" in str(raised.value)
    assert not server.work.exists()
    assert server.process is not None and server.process.poll() is not None


@needs_redis
def test_redis_with_an_auth_token_takes_tls_and_the_token_only(authority: LocalAuthority) -> None:
    spec = ServerSpec("cache", ("master.c.cache.amazonaws.com",), auth_token="example-token-0001", tls=True)
    server = RedisServer(spec, REDIS, free_port(), authority)  # type: ignore[arg-type]
    server.start()
    try:
        ca = str(authority.certificate)
        assert command(server.port, ["PING"], tls_ca=ca)[0].startswith("-NOAUTH")
        assert command(server.port, ["AUTH", "wrong"], ["PING"], tls_ca=ca)[0].startswith("-WRONGPASS")
        assert server.ask("PING") == "+PONG"
        with pytest.raises(OSError):
            command(server.port, ["PING"])  # no plain connection: TLS only
    finally:
        ended = server.stop()
    assert "data directory removed" in ended and not server.work.exists()


@needs_redis
def test_redis_rbac_users_keep_their_access_strings() -> None:
    users = (
        RedisUser("default", "off -@all"),
        RedisUser("app", "on ~app:* +@all -@dangerous", iam=True),
    )
    server = RedisServer(ServerSpec("cache", redis_users=users), REDIS, free_port())  # type: ignore[arg-type]
    server.start()
    try:
        assert command(server.port, ["AUTH", "app", "any-iam-token"], ["SET", "app:x", "1"])[-1] == "+OK"
        denied = command(server.port, ["AUTH", "app", "t"], ["SET", "other", "1"])[-1]
        assert denied.startswith("-NOPERM")
        assert command(server.port, ["PING"])[0].startswith("-NOAUTH")
    finally:
        server.stop()


MYSQL = _host("mysql") or _host("mariadb")


@pytest.mark.skipif(MYSQL is None, reason="no MySQL or MariaDB server here (install mariadb-server, or MySQL's)")
def test_mysql_is_made_with_the_master_and_the_database() -> None:
    spec = ServerSpec("db", db_name="shop", master_user="shop_admin", master_password="pw", max_connections=42)
    server = MysqlServer(spec, MYSQL, free_port())  # type: ignore[arg-type]
    server.start()
    try:
        assert server.facts()["max_connections"] == "42"
    finally:
        server.stop()
    assert not server.work.exists()


@pytest.mark.skipif(not docker_available(), reason="no Docker engine answers here: the testcontainers path needs one")
def test_a_container_stands_in_where_docker_answers() -> None:
    runner = runner_for("redis", "7", docker=True)
    spec = ServerSpec("cache", auth_token="example-token-0001")
    server = ContainerServer(spec, runner, plan_for(spec, runner, "unused"))
    server.start()
    try:
        assert command(server.port, ["AUTH", "example-token-0001"], ["PING"])[-1] == "+PONG"
    finally:
        server.stop()
