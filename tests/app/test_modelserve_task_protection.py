"""The worker protects its ECS task from scale-in while it holds a job, and only then.

A local HTTP server stands in for the ECS agent's task-protection endpoint (ECS_AGENT_URI); the job runs
through the in-process moto account of the other worker tests.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from modelserve import worker
from modelserve.config import load_worker_config
from modelserve.protection import AGENT_VARIABLE, TaskProtection, expiry_minutes
from modelserve_testlib import UPLOADS_BUCKET, Stack

pytestmark = pytest.mark.app


class Agent:
    """What the stand-in agent was asked, in order, and what it answers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.answer: dict[str, Any] = {"protection": {"ProtectionEnabled": True}}
        self.during_job: list[bool] = []


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    seen = Agent()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.requests.append(("PUT", self.path, body))
            payload = json.dumps(seen.answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(AGENT_VARIABLE, f"http://127.0.0.1:{server.server_address[1]}/v4/task")
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def _enqueue(stack: Stack, key: str) -> str:
    job_id = str(uuid.uuid4())
    stack.s3.put_object(Bucket=UPLOADS_BUCKET, Key=key, Body=b"\xff\xd8\xff payload")
    stack.sqs.send_message(
        QueueUrl=stack.queue_url,
        MessageBody=json.dumps({"job_id": job_id, "image_key": key, "model": "toy"}),
    )
    return job_id


def test_a_job_runs_protected_and_the_protection_is_released_after(stack: Stack, agent: Agent) -> None:
    job_id = _enqueue(stack, "uploads/u1/cat.jpg")
    runner = worker.Worker(load_worker_config())
    original = runner._process

    def process(message: Any) -> None:
        agent.during_job.append(len(agent.requests) == 1)
        original(message)

    runner._process = process  # type: ignore[method-assign]

    assert runner.process_once() == 1

    visibility = int(
        stack.sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"][
            "VisibilityTimeout"
        ]
    )
    assert agent.requests == [
        ("PUT", "/v4/task/task-protection/v1/state", {"ProtectionEnabled": True, "ExpiresInMinutes": 1}),
        ("PUT", "/v4/task/task-protection/v1/state", {"ProtectionEnabled": False}),
    ]
    assert agent.requests[0][2]["ExpiresInMinutes"] == expiry_minutes(visibility)
    assert agent.during_job == [True]  # protected before the job started, released after it ended
    assert stack.state(job_id)["status"] == "done"


def test_an_idle_poll_asks_for_no_protection(stack: Stack, agent: Agent) -> None:
    assert worker.Worker(load_worker_config()).process_once() == 0
    assert agent.requests == []


def test_a_refused_protection_neither_stops_the_job_nor_is_released(stack: Stack, agent: Agent) -> None:
    agent.answer = {"failure": {"Reason": "AccessDeniedException", "Detail": "no ecs:UpdateTaskProtection"}}
    job_id = _enqueue(stack, "uploads/u1/dog.jpg")

    assert worker.Worker(load_worker_config()).process_once() == 1

    assert [body for _, _, body in agent.requests] == [{"ProtectionEnabled": True, "ExpiresInMinutes": 1}]
    assert stack.state(job_id)["status"] == "done"


def test_outside_ecs_there_is_no_agent_and_nothing_is_called() -> None:
    protection = TaskProtection.from_environment({})
    with protection.held(5):
        pass
    assert not protection.available


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 1), (30, 1), (61, 2), (360, 6), (10**6, 2880)])
def test_a_protection_lasts_the_visibility_timeout_within_what_ecs_accepts(seconds: int, minutes: int) -> None:
    assert expiry_minutes(seconds) == minutes
