"""ECS task scale-in protection while the worker holds a job.

A job may run longer than ECS waits between SIGTERM and SIGKILL when it stops a task (stopTimeout, at
most 120 s on Fargate): a scale-in in the middle of a 5-minute job would kill it, and the message would
come back after its visibility timeout, one receive closer to the dead-letter queue. While a task holds a
message it asks the ECS agent to protect it (PUT $ECS_AGENT_URI/task-protection/v1/state), so a scale-in
stops idle workers only; the protection expires on its own after the queue's visibility timeout, in case
the worker dies without releasing it. The agent makes the UpdateTaskProtection call with the task role's
credentials (terraform/modules/iam grants ecs:UpdateTaskProtection on the cluster's tasks).

Outside ECS (tests, stackprobe's live probes) there is no agent and protection is a no-op. A failed call is
logged and the job goes on: protection shortens no job, its absence only exposes one to a scale-in.
Spot reclaims are not scale-in and ignore it; a reclaimed job is redelivered by the queue.
"""

from __future__ import annotations

import json
import logging
import math
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("modelserve.protection")

# Set by the ECS agent in every container of a task (Fargate platform 1.4 and later), not by the task definition.
AGENT_VARIABLE = "ECS_AGENT_URI"
STATE_PATH = "/task-protection/v1/state"
# What ECS accepts for ExpiresInMinutes.
MIN_MINUTES, MAX_MINUTES = 1, 2880
AGENT_TIMEOUT_SECONDS = 5.0

Opener = Callable[[urllib.request.Request, float], Any]


def _open(request: urllib.request.Request, timeout: float) -> Any:
    # The agent's local endpoint, from the environment ECS sets.
    return urllib.request.urlopen(request, timeout=timeout)


def expiry_minutes(visibility_timeout_seconds: int) -> int:
    """How long one protection lasts: the visibility timeout, after which the job is another worker's anyway."""
    return max(MIN_MINUTES, min(MAX_MINUTES, math.ceil(visibility_timeout_seconds / 60)))


class TaskProtection:
    """Protect the task from scale-in while a job runs (`with protection.held(): ...`)."""

    def __init__(self, agent_uri: str | None, *, opener: Opener = _open) -> None:
        self.agent_uri = agent_uri.rstrip("/") if agent_uri else None
        self._opener = opener

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TaskProtection:
        source = os.environ if environ is None else environ
        return cls(source.get(AGENT_VARIABLE, "").strip() or None)

    @property
    def available(self) -> bool:
        return self.agent_uri is not None

    def _put(self, body: dict[str, Any]) -> bool:
        if self.agent_uri is None:
            return False
        request = urllib.request.Request(
            f"{self.agent_uri}{STATE_PATH}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        try:
            with self._opener(request, AGENT_TIMEOUT_SECONDS) as response:
                answer = json.loads(response.read() or b"{}")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            log.warning("task protection %s failed: %s", body, exc)
            return False
        failure = answer.get("failure") if isinstance(answer, dict) else None
        if failure:
            log.warning("task protection %s refused: %s", body, failure)
            return False
        return True

    def protect(self, minutes: int) -> bool:
        return self._put({"ProtectionEnabled": True, "ExpiresInMinutes": minutes})

    def release(self) -> bool:
        return self._put({"ProtectionEnabled": False})

    @contextmanager
    def held(self, minutes: int) -> Iterator[None]:
        protected = self.protect(minutes)
        try:
            yield
        finally:
            if protected:
                self.release()
