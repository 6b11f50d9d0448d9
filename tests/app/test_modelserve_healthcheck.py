"""The container health-check command against a real listening server."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from flask import redirect
from flask.typing import ResponseReturnValue
from modelserve.api import create_app
from modelserve.config import load_config
from modelserve.healthcheck import check
from modelserve_testlib import base_env, subprocess_env
from werkzeug.serving import make_server

pytestmark = pytest.mark.app


@pytest.fixture
def port(clean_aws_env: None) -> Iterator[int]:
    env = base_env("https://sqs.us-east-1.amazonaws.com/123456789012/q")
    env["HEALTH_PATH"] = "/healthz"
    app = create_app(load_config(env))

    def moved() -> ResponseReturnValue:
        return redirect("/healthz")

    app.add_url_rule("/moved", view_func=moved)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval only so that shutdown() in teardown returns quickly.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def run_check(port: int, path: str) -> tuple[int, str]:
    out = io.StringIO()
    code = check({"APP_PORT": str(port), "HEALTH_PATH": path}, out)
    return code, out.getvalue()


def test_healthy_server_exits_0(port: int) -> None:
    assert run_check(port, "/healthz") == (0, f"healthy: GET http://127.0.0.1:{port}/healthz -> 200\n")


def test_wrong_path_exits_1(port: int) -> None:
    assert run_check(port, "/health") == (1, f"unhealthy: GET http://127.0.0.1:{port}/health -> 404\n")


def test_redirect_is_not_followed(port: int) -> None:
    assert run_check(port, "/moved") == (1, f"unhealthy: GET http://127.0.0.1:{port}/moved -> 302\n")


def test_nothing_listening_exits_1() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    code, output = run_check(free_port, "/healthz")
    assert code == 1
    assert output.startswith(f"unhealthy: GET http://127.0.0.1:{free_port}/healthz failed: ")


def test_port_wins_over_app_port(port: int) -> None:
    out = io.StringIO()
    assert check({"PORT": str(port), "APP_PORT": "1", "HEALTH_PATH": "/healthz"}, out) == 0, out.getvalue()


def test_bad_environment_exits_1() -> None:
    assert run_check(0, "healthz")[0] == 1
    assert check({"APP_PORT": "eighty"}, io.StringIO()) == 1


def test_module_entry_point_uses_the_environment(port: int) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "modelserve.healthcheck"],
        env=subprocess_env({"APP_PORT": str(port), "HEALTH_PATH": "/healthz"}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (ok.returncode, ok.stdout) == (0, f"healthy: GET http://127.0.0.1:{port}/healthz -> 200\n")
    bad = subprocess.run(
        [sys.executable, "-m", "modelserve.healthcheck"],
        env=subprocess_env({"APP_PORT": str(port)}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (bad.returncode, bad.stdout) == (1, f"unhealthy: GET http://127.0.0.1:{port}/health -> 404\n")
