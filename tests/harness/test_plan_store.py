"""The plan store: keyed by every input of a plan, read when published, waited for when in progress,
recomputed when the planner failed, and never applied by a stack that did not make the plan."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.request_log import RequestRecord
from stackprobe.lifecycle.deployment import Deployment
from stackprobe.lifecycle.plan_store import PlanStore
from stackprobe.lifecycle.prepared import Preparation, PreparedStack, Prerequisites
from stackprobe.lifecycle.run import Run
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.runner import COMMAND_LOG_ENV

pytestmark = pytest.mark.harness

PREREQUISITE_STACKS = Path(__file__).parent / "stacks" / "prerequisites"
PLANNED = {"format_version": "1.2", "resource_changes": [{"address": "aws_sqs_queue.q", "type": "aws_sqs_queue"}]}


def _never() -> Plan:
    raise AssertionError("planned again although another process's plan was there to read")


BACKEND = AwsBackend("moto", "http://127.0.0.1:1", "eu-west-1", "123456789012")  # never asked: nothing runs


@pytest.fixture
def config(tmp_path: Path) -> StackSpec:
    root = tmp_path / "config"
    (root / "modules" / "queue").mkdir(parents=True)
    (root / "main.tf").write_text('module "queue" { source = "./modules/queue" }\n')
    (root / "modules" / "queue" / "main.tf").write_text('resource "aws_sqs_queue" "q" {}\n')
    (root / "prod.tfvars").write_text('name = "prod"\n')
    return StackSpec(tf_dir=root, var_files=(root / "prod.tfvars",))


def _key(spec: StackSpec, tmp_path: Path, backend: AwsBackend = BACKEND, settings: RunSettings | None = None) -> str:
    """The plan key of `spec` as a fresh stack computes it (a workspace copy; no terraform, no emulator)."""
    work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    return PreparedStack(spec, backend, work, Preparation(settings or RunSettings())).plan_key()


def test_the_key_follows_every_input_of_a_plan_but_not_the_teardown_variables(
    config: StackSpec, tmp_path: Path
) -> None:
    key = _key(config, tmp_path)

    assert _key(StackSpec(config.tf_dir, config.var_files, (), (("allow", "true"),)), tmp_path) == key
    assert _key(config, tmp_path, replace(BACKEND, name="localstack")) != key
    assert _key(config, tmp_path, replace(BACKEND, region="us-east-1")) != key
    assert _key(StackSpec(config.tf_dir, config.var_files, (("n", "1"),)), tmp_path) != key
    # A run with --no-stand-ins, or without --provider-fallback, must make its own plan: it may not be possible.
    assert _key(config, tmp_path, settings=RunSettings(stand_ins=False)) != key
    assert _key(config, tmp_path, settings=RunSettings(provider_fallback=True)) != key
    (config.tf_dir / "modules" / "queue" / "main.tf").write_text('resource "aws_sqs_queue" "r" {}\n')
    assert _key(config, tmp_path) != key
    changed = _key(config, tmp_path)
    config.var_files[0].write_text('name = "dev"\n')
    assert _key(config, tmp_path) != changed


def test_the_key_covers_a_local_module_outside_the_root(tmp_path: Path) -> None:
    """A module called as `../shared/x` is copied into the workspace, so it is part of the digest too."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "main.tf").write_text('resource "aws_sqs_queue" "q" {}\n')
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "main.tf").write_text('module "q" { source = "../shared" }\n')
    spec = StackSpec(tf_dir=tmp_path / "root")
    key = _key(spec, tmp_path)
    (tmp_path / "shared" / "main.tf").write_text('resource "aws_sqs_queue" "other" {}\n')
    assert _key(spec, tmp_path) != key


def test_a_published_plan_is_read_not_recomputed(tmp_path: Path) -> None:
    planner, reader = PlanStore(tmp_path), PlanStore(tmp_path)

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

    planner = threading.Thread(target=PlanStore(tmp_path).planned, args=("k", slow_plan))
    planner.start()
    started.wait(10)
    reader = PlanStore(tmp_path)
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
            PlanStore(tmp_path).planned("k", failing_plan)
        except RuntimeError as exc:
            errors.append(exc)

    planner = threading.Thread(target=plan_and_fail)
    planner.start()
    started.wait(10)
    got: list[Plan] = []
    waiting = threading.Thread(target=lambda: got.append(PlanStore(tmp_path).plan_json("k", lambda: Plan({"own": 1}))))
    waiting.start()
    release.set()
    planner.join(10)
    waiting.join(10)
    assert errors and [plan.raw for plan in got] == [{"own": 1}]


class StandInRunner:
    """What a stack asks of terraform, recorded: plans made in its workspace, plans applied."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.applied: list[Plan] = []

    def plan(self, variables: object) -> Plan:
        return Plan({"planned_in": str(self.work_dir)}, path=self.work_dir / "stackprobe.tfplan")

    def apply_plan(self, plan: Plan) -> None:
        self.applied.append(plan)


@pytest.fixture
def recorded_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: StackSpec) -> Deployment:
    """A deployment whose terraform and emulator are stand-ins: it records what it plans and applies."""
    store = PlanStore(tmp_path / "store")
    prepared = PreparedStack(config, BACKEND, tmp_path / "work", Preparation(RunSettings(), plans=store))
    runner = StandInRunner(prepared.work_dir)
    monkeypatch.setattr(prepared, "runner", lambda: runner)
    monkeypatch.setattr(prepared, "check_guard", lambda: None)
    monkeypatch.setattr("stackprobe.lifecycle.prepared.check_caller_identity", lambda backend: "123456789012")
    monkeypatch.setattr("stackprobe.lifecycle.deployment.snapshot", lambda backend, regions: ({}, []))
    return Deployment(prepared)


def test_a_stack_applies_only_a_plan_it_made(recorded_stack: Deployment) -> None:
    prepared = recorded_stack.prepared
    assert prepared.how.plans is not None
    prepared.how.plans.planned(prepared.plan_key(), lambda: Plan({"planned_in": "another process"}))

    assert prepared.plan_json().raw == {"planned_in": "another process"}
    recorded_stack.apply()

    runner = prepared.runner()
    assert isinstance(runner, StandInRunner)
    [plan] = runner.applied
    assert plan.path is not None and plan.raw["planned_in"] == str(prepared.work_dir)
    # ... and publishes it in turn, for the processes that only read.
    published = prepared.how.plans.published(prepared.plan_key())
    assert published is not None and published.raw == plan.raw


@pytest.fixture
def with_prerequisites(tmp_path: Path) -> StackSpec:
    """A copy of the harness's service stack and the network it is given (its vpc_id output)."""
    shutil.copytree(PREREQUISITE_STACKS, tmp_path / "stacks")
    return StackSpec(
        tf_dir=tmp_path / "stacks" / "service", prerequisites=StackSpec(tf_dir=tmp_path / "stacks" / "network")
    )


def test_a_stack_with_prerequisites_is_keyed_by_their_configuration_and_the_names_they_give(
    with_prerequisites: StackSpec, tmp_path: Path
) -> None:
    network = with_prerequisites.prerequisites
    assert network is not None

    def key(names: tuple[str, ...] = ("vpc_id",)) -> str:
        digest = PreparedStack(
            network, BACKEND, tmp_path / f"pre-{len(list(tmp_path.glob('pre-*')))}", Preparation(RunSettings())
        ).digest
        given = Prerequisites(names, digest, outputs=lambda: {"vpc_id": "vpc-never-asked"})
        work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
        return PreparedStack(
            with_prerequisites, BACKEND, work, Preparation(RunSettings()), prerequisites=given
        ).plan_key()

    first = key()
    assert key() == first  # no value is part of it: a run's ids are its own
    assert _key(with_prerequisites, tmp_path) != first  # the same stack planned without them
    assert key(("vpc_id", "subnet_ids")) != first
    (network.tf_dir / "main.tf").write_text(
        (network.tf_dir / "main.tf").read_text() + '\noutput "extra" { value = 1 }\n'
    )
    assert key() != first


def test_a_stored_plan_of_a_stack_with_prerequisites_is_read_without_deploying_them(
    with_prerequisites: StackSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "commands.jsonl"
    monkeypatch.setenv(COMMAND_LOG_ENV, str(log))
    store = PlanStore(tmp_path / "store")
    run = Run(RunSettings(), tmp_path / "run", plans=store)
    try:
        prepared = run.prepared(with_prerequisites)
        assert prepared.prerequisites is not None and prepared.prerequisites.names == ("vpc_id",)
        store.planned(prepared.plan_key(), lambda: Plan(PLANNED))  # what an earlier run published

        assert prepared.plan_json().raw == PLANNED
        assert run.deployed() == [] and not log.exists(), "the prerequisites were deployed for a plan already stored"
    finally:
        assert run.close() == []


def test_a_run_that_only_reads_stored_plans_sends_the_emulator_nothing_until_terraform_runs(
    config: StackSpec, tmp_path: Path
) -> None:
    """The emulator's warm-up (every service listed once) waits for the first terraform command: a warm
    `pytest -m unit` reads every plan from the store, and the listing only competed with it for the interpreter."""
    store = PlanStore(tmp_path / "store")
    run = Run(RunSettings(), tmp_path / "run", plans=store)
    try:
        prepared = run.prepared(config)
        store.planned(prepared.plan_key(), lambda: Plan(PLANNED))
        assert prepared.plan_json().raw == PLANNED
        assert run.emulator is not None
        run.emulation.wait_for_warmup()  # a warm-up under way would be finished, and in the log, after this
        assert _listings(run.emulator.request_log.tail(500)) == []

        prepared.runner()  # terraform init: the warm-up starts here, to overlap terraform's commands
        run.emulation.wait_for_warmup()
        assert "DescribeVpcs" in _listings(run.emulator.request_log.tail(500))
    finally:
        assert run.close() == []


def _listings(records: list[RequestRecord]) -> list[str]:
    """What was asked of the emulator besides the guard's identity check."""
    return [record.operation for record in records if record.operation != "GetCallerIdentity"]
