"""The example's web service: its health route opens a PostgreSQL connection and pings Redis.

    python3 app/web.py           serve on $PORT (8000 without it)
    python3 app/web.py --check   the container health check: exit 0 when GET /healthz answers 200

GET /healthz answers 200 {"status": "ok", ...} when a new PostgreSQL connection to $DB_HOST:$DB_PORT/$DB_NAME
(as $DB_USER, TLS required as RDS requires it) answers `SELECT 1` and Redis at $REDIS_HOST:$REDIS_PORT (TLS,
AUTH $REDIS_AUTH) answers PING; else 503 with what failed, also printed on stderr. GET / counts visits in Redis.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

import psycopg
import redis

HEALTH_PATH = "/healthz"


def port() -> int:
    return int(os.environ.get("PORT", "8000"))


def cache() -> redis.Redis:
    # TLS with the certificate verified (the system's authorities, or SSL_CERT_FILE's), as ElastiCache requires.
    return redis.Redis(
        host=os.environ["REDIS_HOST"],
        port=int(os.environ.get("REDIS_PORT", "6379")),
        password=os.environ["REDIS_AUTH"],
        ssl=True,
        socket_timeout=3,
        socket_connect_timeout=3,
    )


def check_database() -> str:
    with psycopg.connect(
        host=os.environ["DB_HOST"],
        port=int(os.environ.get("DB_PORT", "5432")),
        dbname=os.environ["DB_NAME"],
        user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        sslmode="require",
        connect_timeout=3,
    ) as connection:
        row = connection.execute("SELECT 1").fetchone()
    return "ok" if row == (1,) else f"unexpected answer {row}"


def health() -> tuple[int, dict[str, Any]]:
    checks: dict[str, str] = {}
    try:
        checks["database"] = check_database()
    except (psycopg.Error, KeyError, ValueError) as exc:
        checks["database"] = f"failed: {exc}".strip()
    try:
        checks["cache"] = "ok" if cache().ping() else "no PONG"
    except (redis.RedisError, KeyError, ValueError) as exc:
        checks["cache"] = f"failed: {exc}"
    healthy = all(value == "ok" for value in checks.values())
    if not healthy:
        print(f"web: unhealthy: {json.dumps(checks)}", file=sys.stderr, flush=True)
    return (200 if healthy else 503), {"status": "ok" if healthy else "unhealthy", **checks}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self.answer(*health())
        elif self.path == "/":
            try:
                self.answer(200, {"visits": int(cache().incr("visits"))})
            except redis.RedisError as exc:
                self.answer(503, {"error": str(exc)})
        else:
            self.answer(404, {"error": f"no route {self.path}"})

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"web: {self.address_string()} {format % args}\n")


def check() -> int:
    url = f"http://127.0.0.1:{port()}{HEALTH_PATH}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"unhealthy: GET {url} failed: {exc}")
        return 1
    print(f"{'healthy' if status == 200 else 'unhealthy'}: GET {url} -> {status}")
    return 0 if status == 200 else 1


def serve() -> int:
    server = ThreadingHTTPServer(("0.0.0.0", port()), Handler)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"web: listening on port {server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(check() if sys.argv[1:] == ["--check"] else serve())
