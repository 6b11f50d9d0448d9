"""gunicorn settings, loaded with ``gunicorn -c python:modelserve.gunicorn_conf``.

A config module rather than CLI flags because the Dockerfile's exec-form CMD cannot expand
$APP_PORT, and a shell wrapper would put /bin/sh between ECS's SIGTERM and gunicorn.
"""

import os

bind = f"0.0.0.0:{os.environ.get('APP_PORT', '').strip() or '8080'}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
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
