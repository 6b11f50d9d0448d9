"""The example's worker: no port, no load balancer; it keeps a heartbeat in Redis, and its health check reads it.

    python3 app/worker.py           every second, SET worker:heartbeat <now> EX 10 in Redis (TLS, AUTH)
    python3 app/worker.py --check   the container health check: exit 0 when the heartbeat is less than 10 s old

A worker that cannot reach Redis keeps trying (and says so on stderr); its health check then fails, and ECS
replaces its task.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from types import FrameType

import redis

KEY = "worker:heartbeat"
FRESH_SECONDS = 10


def cache() -> redis.Redis:
    return redis.Redis(
        host=os.environ["REDIS_HOST"],
        port=int(os.environ.get("REDIS_PORT", "6379")),
        password=os.environ["REDIS_AUTH"],
        ssl=True,
        socket_timeout=3,
        socket_connect_timeout=3,
    )


def check() -> int:
    try:
        raw = cache().get(KEY)
    except redis.RedisError as exc:
        print(f"unhealthy: Redis: {exc}")
        return 1
    if raw is None:
        print("unhealthy: no heartbeat")
        return 1
    age = time.time() - float(raw)
    print(f"{'healthy' if age < FRESH_SECONDS else 'unhealthy'}: heartbeat {age:.1f} s old")
    return 0 if age < FRESH_SECONDS else 1


def run() -> int:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    client = cache()
    print("worker: started", file=sys.stderr, flush=True)
    while True:
        try:
            client.set(KEY, str(time.time()), ex=FRESH_SECONDS)
        except redis.RedisError as exc:
            print(f"worker: heartbeat failed: {exc}", file=sys.stderr, flush=True)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(check() if sys.argv[1:] == ["--check"] else run())
