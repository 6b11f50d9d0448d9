"""Choosing checks as checkov users do (--check / --skip-check), and what skipping the lifecycle saves."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import CHECKS, select
from stackprobe.lifecycle.deployment import Deployment, StackMode
from stackprobe.lifecycle.ending import DiscardedStack
from stackprobe.lifecycle.prepared import Preparation, PreparedStack
from stackprobe.settings import RunSettings, StackSpec

pytestmark = pytest.mark.harness


def ids(checks: list[object]) -> set[str]:
    return {check.id for check in checks}  # type: ignore[attr-defined]


def test_patterns_choose_and_skip() -> None:
    chosen = ids(select(["s3.*", "lifecycle.idempotent"], ["s3.tls-only"]))
    assert "s3.versioning" in chosen and "lifecycle.idempotent" in chosen
    assert "s3.tls-only" not in chosen and not any(c.startswith("network.") for c in chosen)
    assert ids(select()) == ids(CHECKS)
    assert ids(select(skipped=["lifecycle.*"])) == ids(CHECKS) - {"lifecycle.idempotent", "lifecycle.clean-teardown"}


def test_a_name_that_matches_nothing_is_an_error_with_the_closest_ids() -> None:
    with pytest.raises(ValueError, match=r"no check matches 's3\.versionin'; did you mean s3\.versioning"):
        select(["s3.versionin"])


class NoTerraform:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a discarded stack ran terraform ({name})")


def test_a_discarded_stack_ends_without_terraform(tmp_path: Path) -> None:
    backend = AwsBackend("moto", "http://127.0.0.1:1", "eu-west-1", "123456789012")
    prepared = PreparedStack(StackSpec(tf_dir=tmp_path), backend, tmp_path, Preparation(RunSettings()))
    prepared.runner = lambda: NoTerraform()  # type: ignore[assignment,method-assign,return-value]
    deployment = Deployment(prepared, StackMode.DISCARDED)
    deployment.armed = True

    ending = deployment.end()
    assert isinstance(ending, DiscardedStack) and "not asked for" in ending.render()
