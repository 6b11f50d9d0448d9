"""HTTP API of the modelserve container (Flask).

Production runs ``gunicorn "modelserve.api:create_app()"``; ``python -m modelserve.api`` runs the same
app on the same server with the same settings (gunicorn_conf), bound to --host/--port, for local runs
and stackprobe's live probes (werkzeug's development server only where gunicorn is not installed).
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from .aws import error_code, make_rds_client, make_s3_client, make_sqs_client
from .cache import ResultCache
from .config import Config, ConfigError, load_config
from .db import HISTORY_LIMIT_MAX, DatabaseUnavailableError, JobStore, iam_token_source
from .jobs import TERMINAL, JobMessage, get_state, is_valid_image_key, is_valid_job_id, new_job_id
from .model import InvalidModelError, ModelNotFoundError, is_number, is_valid_model_name, load_model

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("modelserve.api")

UPLOAD_URL_EXPIRES_IN = 300
# A bare file name: no "/" so the client cannot pick its own prefix inside uploads/<uuid>/.
_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def _error(status: int, message: str, **extra: Any) -> ResponseReturnValue:
    return jsonify({"error": message, **extra}), status


def _json_body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _aws_check(call: Callable[[], object], target: str) -> dict[str, Any]:
    try:
        call()
    except (ClientError, BotoCoreError) as exc:
        return {"ok": False, "target": target, "error": error_code(exc)}
    return {"ok": True, "target": target}


def create_app(config: Config | None = None, store: JobStore | None = None, cache: ResultCache | None = None) -> Flask:
    """Build the app; raises ConfigError (naming the variable) when the environment is incomplete. Nothing is
    connected to here (gunicorn builds the app before it forks): the pools open in each server process."""
    cfg = config if config is not None else load_config()
    s3 = make_s3_client(cfg.region)
    sqs = make_sqs_client(cfg.region)
    if store is None:
        store = JobStore(cfg.db, iam_token_source(make_rds_client(cfg.region), cfg.region))
    if cache is None and cfg.cache is not None:
        cache = ResultCache(cfg.cache, cfg.region)

    # No static folder: the API serves no files, and the implicit /static route would only widen
    # what a misconfigured HEALTH_PATH could collide with.
    app = Flask("modelserve", static_folder=None)
    app.config["MODELSERVE"] = cfg
    _register_routes(app, cfg, s3, sqs, store, cache)
    _register_health(app, cfg.health_path)
    return app


def _register_health(app: Flask, path: str) -> None:
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except NotFound:
        pass
    except (MethodNotAllowed, RequestRedirect) as exc:
        raise ConfigError(f"HEALTH_PATH={path!r} collides with an API route") from exc
    else:
        raise ConfigError(f"HEALTH_PATH={path!r} collides with an API route")

    def health() -> ResponseReturnValue:
        # Liveness deliberately touches nothing outside the process: the ALB and the ECS container
        # health check replace tasks that fail it, so if it consulted the database (or S3/SQS) a
        # single dependency blip would make every task fail at once and ECS would kill the whole
        # service, turning a brief outage into a long one. Dependency state belongs in /ready.
        return jsonify({"status": "ok"})

    app.add_url_rule(path, endpoint="health", view_func=health, methods=["GET"])


def _register_routes(
    app: Flask, cfg: Config, s3: S3Client, sqs: SQSClient, store: JobStore, cache: ResultCache | None
) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(ClientError)
    @app.errorhandler(BotoCoreError)
    def aws_error(exc: Exception) -> ResponseReturnValue:
        log.error("AWS call failed: %s", exc)
        return _error(502, "upstream AWS request failed", code=error_code(exc))

    @app.errorhandler(DatabaseUnavailableError)
    def database_error(exc: DatabaseUnavailableError) -> ResponseReturnValue:
        log.error("%s", exc)
        return _error(503, "the database is unavailable", detail=str(exc))

    @app.get("/ready")
    def ready() -> ResponseReturnValue:
        checks: dict[str, Any] = {
            "models_bucket": _aws_check(lambda: s3.head_bucket(Bucket=cfg.models_bucket), cfg.models_bucket),
            "uploads_bucket": _aws_check(lambda: s3.head_bucket(Bucket=cfg.uploads_bucket), cfg.uploads_bucket),
            "jobs_queue": _aws_check(
                lambda: sqs.get_queue_attributes(QueueUrl=cfg.jobs_queue_url, AttributeNames=["QueueArn"]),
                cfg.jobs_queue_url,
            ),
        }
        # The database: the job records need it, so the API is not ready without it. The cache only saves
        # S3 reads: reported, and its failure does not make the API unready.
        database = store.check()
        ok = all(check["ok"] for check in checks.values()) and all(entry["ok"] for entry in database.values())
        checks["database"] = database
        checks["cache"] = cache.check() if cache is not None else {"configured": False}
        return jsonify({"status": "ready" if ok else "not_ready", "checks": checks}), 200 if ok else 503

    @app.post("/predict")
    def predict() -> ResponseReturnValue:
        body = _json_body()
        if body is None:
            return _error(400, "request body must be a JSON object")
        name, inputs = body.get("model"), body.get("inputs")
        if not is_valid_model_name(name):
            return _error(400, "'model' must be a model name such as 'iris-v1'")
        if not isinstance(inputs, list) or not inputs or not all(is_number(v) for v in inputs):
            return _error(400, "'inputs' must be a non-empty list of finite numbers")
        assert isinstance(name, str)
        try:
            model = load_model(s3, cfg.models_bucket, name)
        except ModelNotFoundError:
            return _error(404, f"model {name!r} not found")
        except InvalidModelError as exc:
            log.error("%s", exc)
            return _error(500, str(exc))
        if len(inputs) != model.input_size:
            return _error(400, f"model {name!r} expects {model.input_size} inputs, got {len(inputs)}")
        return jsonify({"model": name, **model.predict([float(v) for v in inputs])})

    @app.get("/upload-url")
    def upload_url() -> ResponseReturnValue:
        filename = request.args.get("filename", "")
        if not _FILENAME_RE.match(filename):
            return _error(400, "'filename' must be a bare file name such as photo.jpg")
        key = f"uploads/{new_job_id()}/{filename}"
        # Only Bucket and Key are signed. Adding ServerSideEncryption/SSEKMSKeyId here would sign
        # x-amz-server-side-encryption* headers, and every client would then have to send exactly
        # matching headers or get 403; the bucket's default SSE-KMS encryption applies anyway.
        url = s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": cfg.uploads_bucket, "Key": key},
            ExpiresIn=UPLOAD_URL_EXPIRES_IN,
            HttpMethod="PUT",
        )
        return jsonify({"url": url, "key": key, "expires_in": UPLOAD_URL_EXPIRES_IN})

    @app.post("/start-job")
    def start_job() -> ResponseReturnValue:
        body = _json_body()
        if body is None:
            return _error(400, "request body must be a JSON object")
        image_key, name = body.get("image_key"), body.get("model")
        if not is_valid_image_key(image_key):
            return _error(400, "'image_key' must be an object key under uploads/")
        if not is_valid_model_name(name):
            return _error(400, "'model' must be a model name such as 'iris-v1'")
        assert isinstance(image_key, str) and isinstance(name, str)
        # The image is not checked here: a missing object is the worker's failure to report, which
        # keeps the poison-message path reachable end to end.
        message = JobMessage(job_id=new_job_id(), image_key=image_key, model=name)
        # The record first, the message second: a job the queue holds always has its record (a failed insert
        # answers 503 and enqueues nothing). The worker writes the job's outcome beside its result in S3.
        store.record(message.job_id, message.image_key, message.model)
        try:
            sqs.send_message(QueueUrl=cfg.jobs_queue_url, MessageBody=message.to_json())
        except (ClientError, BotoCoreError) as exc:
            try:
                store.mark_failed(message.job_id, f"enqueue: {error_code(exc)}")
            except DatabaseUnavailableError:
                log.exception("could not record enqueue failure of job %s", message.job_id)
            raise
        response = jsonify({"job_id": message.job_id, "status": "queued"})
        response.headers["Location"] = f"/job/{message.job_id}/results"
        return response, 202

    @app.get("/job/<job_id>/results")
    def job_results(job_id: str) -> ResponseReturnValue:
        if not is_valid_job_id(job_id):
            return _error(404, f"job {job_id!r} not found")
        # A finished job's result from the cache, else the worker's state in S3 (cached once finished), else
        # the API's own record of the submission (queued, or failed to enqueue).
        state, cached = cache.get(job_id) if cache is not None else (None, "none")
        if state is None:
            state = get_state(s3, cfg.uploads_bucket, job_id)
            if state is not None and cache is not None and state.get("status") in TERMINAL:
                cache.put(state)
        if state is None:
            state = store.submitted(job_id)
        if state is None:
            return _error(404, f"job {job_id!r} not found")
        response = jsonify(state)
        response.headers["X-Cache"] = cached
        return response

    @app.get("/jobs")
    def job_history() -> ResponseReturnValue:
        raw = request.args.get("limit", "20")
        if not raw.isdigit() or not 1 <= int(raw) <= HISTORY_LIMIT_MAX:
            return _error(400, f"'limit' must be an integer from 1 to {HISTORY_LIMIT_MAX}")
        entries, host = store.recent(int(raw))
        return jsonify({"jobs": entries, "read_from": host})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelserve.api", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0", help="interface to bind (default: 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="overrides PORT and APP_PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_config()
        app = create_app(config)
    except ConfigError as exc:
        print(f"modelserve: configuration error: {exc}", file=sys.stderr)
        return 2
    port = args.port if args.port is not None else config.app_port
    try:
        from gunicorn.app.wsgiapp import WSGIApplication  # type: ignore[import-untyped]
    except ImportError:
        return _serve_with_werkzeug(app, args.host, port)
    # The production server with the production settings (gunicorn_conf: workers, keep-alive, timeouts),
    # only bound where the caller says: what a local run measures is what the load balancer gets. The
    # socket is bound here and handed over by descriptor, so the port printed is the one listening
    # (--port 0 picks a free one).
    listener = socket.create_server((args.host, port))
    listener.set_inheritable(True)
    bound = listener.getsockname()[1]
    print(f"modelserve (gunicorn): listening on http://{args.host}:{bound}", file=sys.stderr, flush=True)
    sys.argv = [
        "gunicorn",
        "--config",
        "python:modelserve.gunicorn_conf",
        "--bind",
        f"fd://{listener.fileno()}",
        "modelserve.api:create_app()",
    ]
    WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").run()
    return 0


def _serve_with_werkzeug(app: Flask, host: str, port: int) -> int:
    """Where gunicorn cannot run (not installed, or Windows): werkzeug's threaded development server.

    It closes every connection after its response (no HTTP keep-alive), unlike production: a keep-alive
    probe against it measures that, and fails.
    """
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        # Unwinds serve_forever() from the main thread; shutdown() would deadlock here because it
        # waits for the very loop the handler interrupted.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(
        "modelserve (werkzeug, as gunicorn is not installed: connections are not kept alive): "
        f"listening on http://{host}:{server.server_port}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
