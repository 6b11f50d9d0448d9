"""gunicorn settings, loaded with ``gunicorn -c python:modelserve.gunicorn_conf``.

A config module rather than CLI flags because the Dockerfile's exec-form CMD cannot expand
$APP_PORT, and a shell wrapper would put /bin/sh between ECS's SIGTERM and gunicorn.
"""

import os

from modelserve.config import DEFAULT_WEB_CONCURRENCY, keepalive_seconds

bind = f"0.0.0.0:{os.environ.get('APP_PORT', '').strip() or '8080'}"
# Each worker process keeps its own connection pools: config.DbConfig splits DB_POOL_SIZE between them.
workers = int(os.environ.get("WEB_CONCURRENCY", "").strip() or DEFAULT_WEB_CONCURRENCY)
threads = 4
# gunicorn's default keep-alive is 2 s. Behind an ALB (idle timeout 60-65 s) the server would close
# idle connections first, and the ALB would send the next request down a connection being closed:
# sporadic 502s under load. HTTP_KEEPALIVE_SECONDS (from the ALB's idle timeout + 10 s) outlasts it.
keepalive = keepalive_seconds()
# Build the app once in the master: a missing variable then stops gunicorn with one clear
# ConfigError instead of every worker failing to boot in turn.
preload_app = True
# Heartbeat files go to /tmp, the only writable path under a read-only root filesystem.
worker_tmp_dir = "/tmp"
accesslog = "-"
errorlog = "-"
timeout = 30
# Must stay below the ECS stopTimeout (30 s default) so in-flight requests finish before SIGKILL.
graceful_timeout = 20
