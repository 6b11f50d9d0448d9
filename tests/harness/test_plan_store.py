"""Pre-apply plans shared between the processes of a run: read when published, waited for when in
progress, recomputed when the planner failed, and never applied by a process that did not make them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.session import StackSession
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.shared_plans import SharedPlans, plan_key
from stackprobe.stack import StackUnderTest
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness

PLANNED = {"format_version": "1.2", "resource_changes": [{"address": "aws_sqs_queue.q", "type": "aws_sqs_queue"}]}


def _never() -> Plan:
    raise AssertionError("planned again although another process's plan was there to read")


@pytest.fixture
def config(tmp_path: Path) -> StackSpec:
    root = tmp_path / "config"
    (root / "modules" / "queue").mkdir(parents=True)
    (root / "main.tf").write_text('module "queue" { source = "./modules/queue" }\n')
    (root / "modules" / "queue" / "main.tf").write_text('resource "aws_sqs_queue" "q" {}\n')
    (root / "prod.tfvars").write_text('name = "prod"\n')
    return StackSpec(tf_dir=root, var_files=(root / "prod.tfvars",))


def test_the_key_follows_every_input_of_a_plan_but_not_the_teardown_variables(config: StackSpec) -> None:
    key = plan_key(config, "moto", "eu-west-1")

    assert plan_key(StackSpec(config.tf_dir, config.var_files, (), (("allow", "true"),)), "moto", "eu-west-1") == key
    assert plan_key(config, "localstack", "eu-west-1") != key
    assert plan_key(config, "moto", "us-east-1") != key
    assert plan_key(StackSpec(config.tf_dir, config.var_files, (("n", "1"),)), "moto", "eu-west-1") != key
    (config.tf_dir / "modules" / "queue" / "main.tf").write_text('resource "aws_sqs_queue" "r" {}\n')
    assert plan_key(config, "moto", "eu-west-1") != key
    changed = plan_key(config, "moto", "eu-west-1")
    config.var_files[0].write_text('name = "dev"\n')
    assert plan_key(config, "moto", "eu-west-1") != changed
    # A missing var file is not this function's error to report (prepare() explains it, with a remedy).
    assert plan_key(StackSpec(config.tf_dir, (config.tf_dir / "nope.tfvars",)), "moto", "eu-west-1")


def test_a_published_plan_is_read_not_recomputed(tmp_path: Path) -> None:
    planner, reader = SharedPlans(tmp_path), SharedPlans(tmp_path)

    made = planner.planned("k", lambda: Plan(PLANNED, path=tmp_path / "own.tfplan"))

    assert made.path == tmp_path / "own.tfplan"  # the planner keeps its own, appliable plan
    read = reader.plan_json("k", _never)
    assert read.raw == PLANNED and read.path is None  # JSON only: nothing another workspace could apply


def test_a_plan_in_progress_is_waited_for(tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_plan() -> Plan:
        started.set()
        release.wait(10)
        return Plan(PLANNED)

    planner = threading.Thread(target=SharedPlans(tmp_path).planned, args=("k", slow_plan))
    planner.start()
    started.wait(10)
    reader = SharedPlans(tmp_path)
    assert reader.in_progress("k")
    got: list[Plan] = []
    waiting = threading.Thread(target=lambda: got.append(reader.plan_json("k", _never)))
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive() and not got, "the reader went on before the planner published"
    release.set()
    planner.join(10)
    waiting.join(10)
    assert [plan.raw for plan in got] == [PLANNED]
    assert not reader.in_progress("k")


def test_when_the_planner_fails_the_reader_plans_itself(tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def failing_plan() -> Plan:
        started.set()
        release.wait(10)
        raise RuntimeError("bad HCL")

    def plan_and_fail() -> None:
        try:
            SharedPlans(tmp_path).planned("k", failing_plan)
        except RuntimeError as exc:
            errors.append(exc)

    planner = threading.Thread(target=plan_and_fail)
    planner.start()
    started.wait(10)
    got: list[Plan] = []
    waiting = threading.Thread(
        target=lambda: got.append(SharedPlans(tmp_path).plan_json("k", lambda: Plan({"own": 1})))
    )
    waiting.start()
    release.set()
    planner.join(10)
    waiting.join(10)
    assert errors and [plan.raw for plan in got] == [{"own": 1}]


@pytest.fixture
def recorded_stacks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[StackSession, list[Any]]]:
    """A session whose stacks record what they plan and apply, without terraform."""
    applied: list[Any] = []

    def plan(stack: StackUnderTest) -> Plan:
        return Plan({"planned_in": str(stack.work_dir)}, path=stack.work_dir / "stackprobe.tfplan")

    def deploy(stack: StackUnderTest, plan: Plan | None = None) -> Any:
        applied.append(plan)
        stack.deployed = object()  # type: ignore[assignment]
        return stack.deployed

    monkeypatch.setattr(StackUnderTest, "plan", plan)
    monkeypatch.setattr(StackUnderTest, "deploy", deploy)
    session = StackSession(RunSettings(shared_plans=tmp_path / "shared"), tmp_path / "work")
    # No emulator is needed to plan and apply stand-ins: the session is given a backend that never answers.
    session._backend = AwsBackend("moto", "http://127.0.0.1:1", "eu-west-1", "123456789012")
    yield session, applied
    session._stacks.clear()  # nothing was applied for real
    session.close()


def test_a_process_applies_only_a_plan_it_made(
    recorded_stacks: tuple[StackSession, list[Any]], config: StackSpec
) -> None:
    session, applied = recorded_stacks
    key = plan_key(config, session.backend.name, session.backend.region)
    assert session.settings.shared_plans is not None
    other = SharedPlans(session.settings.shared_plans)
    other.planned(key, lambda: Plan({"planned_in": "another process"}))

    assert session.plan(config, shared=True).raw == {"planned_in": "another process"}
    session.deploy(config)

    [plan] = applied
    assert plan.path is not None and plan.raw["planned_in"] == str(session.stack(config).work_dir)
    # ... and publishes it in turn, for the processes that only read.
    published = other.published(key)
    assert published is not None and published.raw == plan.raw


def test_a_deploying_process_publishes_its_plan(
    recorded_stacks: tuple[StackSession, list[Any]], config: StackSpec
) -> None:
    session, applied = recorded_stacks
    assert session.settings.shared_plans is not None

    session.deploy(config)

    key = plan_key(config, session.backend.name, session.backend.region)
    published = SharedPlans(session.settings.shared_plans).published(key)
    assert published is not None and published.raw == applied[0].raw
