"""What the app reads from its environment, derived from its code, against what its documents say.

stackprobe-contract.yaml (`environment`, per container) and README.md (the environment table) state which
task variables the app reads; capacity.unconsumed trusts the contract to tell a pool setting the app reads
from one it ignores. Here the code itself is run with a recording environment (config.py's readers,
healthcheck.py, and gunicorn_conf.py as gunicorn loads it) and every variable it asks for is collected.
"""

from __future__ import annotations

import importlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelserve import config, gunicorn_conf, healthcheck
from modelserve_testlib import APP_DIR, base_env

pytestmark = pytest.mark.app

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/sp-jobs"
OPTIONAL = {
    "PORT": "8081",
    "AWS_DEFAULT_REGION": "us-east-1",
    "DB_READ_HOSTS": "replica.internal",
    "DB_READ_USER": "modelserve_reader",
    "CACHE_HOST": "cache.internal",
    "CACHE_PORT": "6379",
    "CACHE_USER": "modelserve-prod-app",
    "CACHE_NAME": "modelserve-prod",
    "WEB_CONCURRENCY": "2",
    "WORKER_WAIT_SECONDS": "1",
    "WORKER_MAX_POLLS": "1",
}


class RecordingEnvironment(dict[str, str]):
    """A mapping that remembers every name asked of it, present or not."""

    def __init__(self, values: dict[str, str], asked: set[str]) -> None:
        super().__init__(values)
        self.asked = asked

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        self.asked.add(name)
        return super().get(name, default)

    def __contains__(self, name: object) -> bool:
        self.asked.add(str(name))
        return super().__contains__(name)


def _environments() -> Iterator[dict[str, str]]:
    """The task's environment with and without each optional variable, so that every branch asks."""
    full = {**base_env(QUEUE_URL), **OPTIONAL}
    yield full
    yield base_env(QUEUE_URL)
    yield {k: v for k, v in full.items() if k not in ("AWS_REGION", "PORT")}


def _api_reads(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    asked: set[str] = set()
    for values in _environments():
        config.load_config(RecordingEnvironment(values, asked))
        healthcheck.check(RecordingEnvironment({**values, "APP_PORT": "9"}, asked), out=io.StringIO())
        # gunicorn_conf reads os.environ when gunicorn loads it.
        monkeypatch.setattr(os, "environ", RecordingEnvironment(values, asked))
        importlib.reload(gunicorn_conf)
        monkeypatch.undo()
    importlib.reload(gunicorn_conf)
    return asked


def _worker_reads() -> set[str]:
    asked: set[str] = set()
    for values in _environments():
        config.load_worker_config(RecordingEnvironment(values, asked))
    return asked


def _contract() -> dict[str, set[str]]:
    document = yaml.safe_load((APP_DIR / "stackprobe-contract.yaml").read_text())
    return {container: set(names) for container, names in document["environment"].items()}


def _readme_variables() -> set[str]:
    text = (APP_DIR / "README.md").read_text()
    table = text.split("## Environment contract", 1)[1].split("\n## ", 1)[0]
    return {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z_]+)`", row.split("|")[1])
    }


def test_the_contract_lists_exactly_what_each_container_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = _contract()
    assert declared["api"] == _api_reads(monkeypatch), (
        "app/stackprobe-contract.yaml environment.api differs from what the API's code reads"
    )
    assert declared["worker"] == _worker_reads(), (
        "app/stackprobe-contract.yaml environment.worker differs from what the worker's code reads"
    )


def test_the_readme_documents_exactly_what_the_app_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _readme_variables() == _api_reads(monkeypatch) | _worker_reads(), (
        "the environment table of app/README.md differs from what the app's code reads"
    )


def test_the_stack_gives_the_api_only_variables_it_reads() -> None:
    """Every variable terraform/ puts in the API's environment is one the app reads (none is paid for and ignored)."""
    main = (Path(__file__).resolve().parents[2] / "terraform" / "main.tf").read_text()
    service = (Path(__file__).resolve().parents[2] / "terraform" / "modules" / "service" / "main.tf").read_text()
    environment_blocks = re.findall(r"(?:app|db|cache)_environment = (?:var\.create_\w+ \? )?\{(.*?)\n  \}", main, re.S)
    environment_blocks += re.findall(r"api_environment = merge\(var\.api_environment, \{(.*?)\}\)", service, re.S)
    given = {name for block in environment_blocks for name in re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*=", block, re.M)}
    assert given, "no environment block found in terraform/main.tf: the pattern above needs updating"
    assert given <= _contract()["api"], f"given to the API but not read by it: {sorted(given - _contract()['api'])}"
