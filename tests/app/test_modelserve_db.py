"""The API's data path against real servers: PostgreSQL for the job records, Redis for the results.

The servers are made as `--datastore` makes the reference stack's (stackprobe.datastores): the database with its
master and the operator's roles (app/sql/postgres-roles.sql, run as that master), TLS only; Redis with TLS and the
API's RBAC user, which logs in with an IAM token. The AWS side (S3, SQS) is the in-process moto of conftest.py.

Reproduce: .venv/bin/pytest tests/app/test_modelserve_db.py -q -n 0 -p no:cacheprovider
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import sqlalchemy
from modelserve import db
from modelserve.api import create_app
from modelserve.cache import ElastiCacheIAMProvider, ResultCache
from modelserve.config import CacheConfig, DbConfig, load_config
from modelserve.db import DatabaseUnavailableError, JobStore
from modelserve_testlib import UPLOADS_BUCKET, Database, Stack

from stackprobe.datastores.engines import host_servers
from stackprobe.datastores.redis import RedisServer
from stackprobe.datastores.servers import RedisUser, ServerSpec
from stackprobe.datastores.tls import LocalAuthority
from stackprobe.probes.process import free_port

pytestmark = pytest.mark.app

CACHE_USER, CACHE_NAME = "modelserve-prod-app", "modelserve-prod"


class Tokens:
    """A token source that remembers whom each new connection logged in as."""

    def __init__(self) -> None:
        self.minted: list[tuple[str, int, str]] = []

    def __call__(self, host: str, port: int, user: str) -> str:
        self.minted.append((host, port, user))
        return f"token-{len(self.minted)}"


def _config(database: Database, **changes: object) -> DbConfig:
    base = DbConfig("127.0.0.1", database.port, "modelserve", "modelserve_app", pool_size=2, processes=1)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def trusted(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    # sslrootcert=system: the process's trust store, which SSL_CERT_FILE names (the image's holds RDS's CAs).
    monkeypatch.setenv("SSL_CERT_FILE", str(database.authority))
    return database


def test_a_job_is_recorded_as_the_app_role_with_a_token_per_new_connection(trusted: Database) -> None:
    tokens = Tokens()
    store = JobStore(_config(trusted), tokens)
    store.record("0b6f7a52-9d1e-4c3a-8f2b-6e5d4c3b2a10", "uploads/a/cat.jpg", "toy")
    record = store.submitted("0b6f7a52-9d1e-4c3a-8f2b-6e5d4c3b2a10")
    assert record is not None
    assert (record["status"], record["image_key"], record["model"]) == ("queued", "uploads/a/cat.jpg", "toy")
    # One pooled connection served all three statements: one token, for the app role at the endpoint it named.
    assert tokens.minted == [("127.0.0.1", trusted.port, "modelserve_app")]
    # The table is the application role's own (the reader's default SELECT grant depends on it).
    assert trusted.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'jobs'").strip() == "modelserve_app"


def test_the_pool_holds_no_more_than_the_process_share_of_the_budget(
    trusted: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "POOL_TIMEOUT_SECONDS", 0.5)
    store = JobStore(_config(trusted, pool_size=4, processes=2), Tokens())
    engine = store._primary.engine()
    held = [engine.connect() for _ in range(2)]  # DB_POOL_SIZE // WEB_CONCURRENCY
    try:
        with pytest.raises(sqlalchemy.exc.TimeoutError):
            engine.connect()
    finally:
        for connection in held:
            connection.close()


def test_a_server_certificate_the_trust_store_does_not_vouch_for_is_refused(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(LocalAuthority(tmp_path).certificate))
    [(target, check)] = JobStore(_config(database), Tokens()).check().items()
    assert target == "primary 127.0.0.1"
    assert check["ok"] is False
    assert "certificate verify failed" in check["error"]


def test_the_history_is_read_from_a_replica_as_the_read_role(trusted: Database) -> None:
    tokens = Tokens()
    store = JobStore(_config(trusted, read_hosts=("localhost",), read_user="modelserve_reader"), tokens)
    ids = ["1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "2d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d"]
    for job_id in ids:
        store.record(job_id, f"uploads/h/{job_id}.jpg", "toy")
    entries, host = store.recent(100)
    assert host == "localhost"
    listed = [entry["job_id"] for entry in entries if entry["job_id"] in ids]
    assert listed == ids[::-1]
    assert ("localhost", trusted.port, "modelserve_reader") in tokens.minted


def test_a_role_the_operator_did_not_create_cannot_record_and_the_error_names_it(trusted: Database) -> None:
    store = JobStore(_config(trusted, user="modelserve_nobody"), Tokens())
    with pytest.raises(DatabaseUnavailableError) as failure:
        store.record("3d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "uploads/a/cat.jpg", "toy")
    assert "on 127.0.0.1 as modelserve_nobody" in str(failure.value)
    assert "modelserve_nobody" in str(failure.value).split(": ", 1)[1]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, Path]]:
    host = next((server for server in host_servers() if server.flavour == "redis"), None)
    if host is None:
        pytest.skip("no redis-server here (install redis-server)")
    authority = LocalAuthority(tmp_path_factory.mktemp("cache-ca"))
    users = (RedisUser("default", "off -@all"), RedisUser(CACHE_USER, "on ~* +@all -@dangerous", iam=True))
    spec = ServerSpec("modelserve cache", ("master.modelserve-prod.abc.use1.cache.amazonaws.com",), tls=True)
    server = RedisServer(dataclasses.replace(spec, redis_users=users), host, free_port(), authority)  # type: ignore[arg-type]
    server.start()
    yield server, Path(authority.certificate)
    server.stop()


def test_the_iam_token_is_a_presigned_connect_for_the_cache_and_user(clean_aws_env: None) -> None:
    token = ElastiCacheIAMProvider(CACHE_USER, CACHE_NAME, "us-east-1").token()
    host_and_path, query = token.split("?", 1)
    assert host_and_path == f"{CACHE_NAME}/"
    params = parse_qs(query)
    assert (params["Action"], params["User"], params["X-Amz-Expires"]) == (["connect"], [CACHE_USER], ["900"])
    assert params["X-Amz-Credential"][0].endswith("/us-east-1/elasticache/aws4_request")
    assert "X-Amz-Signature" in params


def test_job_results_come_from_the_cache_once_finished_and_from_s3_when_it_is_down(
    stack: Stack,
    database: Database,
    redis_server: tuple[RedisServer, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, cache_authority = redis_server
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(database.authority.read_bytes() + cache_authority.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    for name, value in {**database.env(), "SSL_CERT_FILE": str(bundle)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CACHE_HOST", "127.0.0.1")
    monkeypatch.setenv("CACHE_PORT", str(server.port))
    monkeypatch.setenv("CACHE_USER", CACHE_USER)
    monkeypatch.setenv("CACHE_NAME", CACHE_NAME)
    config = load_config()
    client = create_app(config).test_client()

    assert client.get("/ready").get_json()["checks"]["cache"] == {
        "ok": True,
        "target": f"127.0.0.1:{server.port}",
        "user": CACHE_USER,
    }
    job_id = client.post("/start-job", json={"image_key": "uploads/c/cat.jpg", "model": "toy"}).get_json()["job_id"]
    queued = client.get(f"/job/{job_id}/results")
    assert (queued.get_json()["status"], queued.headers["X-Cache"]) == ("queued", "miss")

    done = {"job_id": job_id, "status": "done", "image_key": "uploads/c/cat.jpg", "model": "toy", "result": {}}
    stack.s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"results/{job_id}.json", Body=json.dumps(done).encode())
    first, second = client.get(f"/job/{job_id}/results"), client.get(f"/job/{job_id}/results")
    assert (first.get_json(), first.headers["X-Cache"]) == (done, "miss")
    assert (second.get_json(), second.headers["X-Cache"]) == (done, "hit")

    # Redis gone: the poll is still answered, from S3, and says the cache was unavailable.
    broken = ResultCache(dataclasses.replace(CacheConfig("127.0.0.1", free_port())), config.region)
    answer = create_app(config, cache=broken).test_client().get(f"/job/{job_id}/results")
    assert (answer.status_code, answer.get_json(), answer.headers["X-Cache"]) == (200, done, "unavailable")
