"""stackprobe's pytest plugin: options, markers and fixtures (and nothing else).

Fixtures are nouns named after what they return:
- `aws_backend`: the emulator's endpoint, region, dummy identity and capabilities;
- `aws`: boto3 clients bound to it (`aws.s3`, `aws.client("ecs")`), in the stack's own region;
- `stack_spec`: the configuration under test, from the command line or ini options;
- `tf_plan`: the parsed pre-apply plan of that configuration;
- `deployed_stack`: the configuration applied once per session, ended after it (destroyed, or kept
  for a live session with --stackprobe-reuse / --keep-stack);
- `stack_drift`: the second plan after apply, split into emulator drift and real drift;
- `check_context`: what every check reads about the deployed stack;
- `stacks`: the session's `Run`, to plan or deploy other configurations;
- `clean_backend`: the emulator, emptied for a test that builds resources itself.

Installing the plugin costs a host project nothing it does not use: this module imports only pytest
and stackprobe's settings; the emulator, boto3, moto and the terraform machinery load when a
stackprobe fixture first runs. It registers only its own two markers (`unit`, `integration`) and adds
`xdist_group` marks only when pytest-xdist is active, only to tests that use the deployed stack.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from stackprobe.settings import (
    CheckSettings,
    Lifetime,
    Settings,
    SettingsError,
    StackSpec,
    add_pytest_options,
    from_pytest,
)

if TYPE_CHECKING:
    from stackprobe.aws.clients import AwsClients
    from stackprobe.backends.base import AwsBackend
    from stackprobe.checks.base import CheckContext
    from stackprobe.lifecycle.deployment import DeployedStack
    from stackprobe.lifecycle.run import Run
    from stackprobe.lifecycle.stack_run import StackRun
    from stackprobe.terraform.drift import DriftReport
    from stackprobe.terraform.plan import Plan

MARKERS = {
    "unit": "plan-level tests: read `terraform show -json`, apply nothing",
    "integration": "deployed-state tests: apply the stack under test to the emulator, then assert with boto3",
}
# The fixtures whose tests need the stack under test deployed (they run last, grouped under xdist).
DEPLOYING_FIXTURES = frozenset({"deployed_stack", "check_context", "stack_drift"})
NOTICE_PROPERTY = "stackprobe-notice"


@dataclass
class _State:
    """What the plugin keeps for the session (in `config.stash`)."""

    stack_run: StackRun | None = None  # the stack under test's run, from the first fixture that needs it
    sent: set[str] = field(default_factory=set)
    notices: list[str] = field(default_factory=list)
    seeded: bool = False  # pytest_stackprobe_prerequisites has run


STATE_KEY = pytest.StashKey[_State]()
LIVE_HOLD_KEY = pytest.StashKey[contextlib.ExitStack]()
SETTINGS_KEY = pytest.StashKey[Settings]()


def settings_of(config: pytest.Config) -> Settings:
    """The session's settings: the ini file's under the command line's, normalised once (kept in the stash)."""
    if SETTINGS_KEY not in config.stash:
        try:
            config.stash[SETTINGS_KEY] = from_pytest(config)
        except SettingsError as exc:
            raise pytest.UsageError(f"stackprobe: {exc}") from None
    return config.stash[SETTINGS_KEY]


def _spec(config: pytest.Config) -> StackSpec:
    spec = settings_of(config).stack
    assert spec is not None, "stackprobe_tf_dir has a default"
    return spec


def pytest_addoption(parser: pytest.Parser) -> None:
    add_pytest_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from stackprobe import pytest_hooks

    pluginmanager.add_hookspecs(pytest_hooks)


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    config.stash[STATE_KEY] = _State()
    config.pluginmanager.register(_Notices(), "stackprobe-notices")


def lifetime(config: pytest.Config) -> Lifetime:
    return settings_of(config).run.lifetime


def _check_baseline(config: pytest.Config) -> None:
    path = settings_of(config).report.baseline
    if path is None:
        return
    from stackprobe.errors import StackprobeError
    from stackprobe.report.baseline import load_baseline

    try:
        load_baseline(path, _spec(config).tf_dir)
    except StackprobeError as exc:
        raise pytest.UsageError(f"stackprobe: {exc}") from None


def pytest_sessionstart(session: pytest.Session) -> None:
    """With a live stack, this run holds its session for its whole length (xdist workers share the hold).

    A second run attached to the same live stack would change it under the first: it is refused at once,
    with the holder named, before any test runs. So is a baseline that cannot be used (missing, corrupt, or
    written for another directory), before anything is deployed.
    """
    config = session.config
    _check_baseline(config)
    if lifetime(config) == Lifetime.EPHEMERAL or hasattr(config, "workerinput"):
        return
    from stackprobe.lifecycle.live import LiveSessionError, LiveSessions

    hold = contextlib.ExitStack()
    try:
        hold.enter_context(LiveSessions(settings_of(config).run.cache_dir).hold(_spec(config), "pytest"))
    except LiveSessionError as exc:
        raise pytest.UsageError(f"stackprobe: {exc}") from None
    config.stash[LIVE_HOLD_KEY] = hold


def pytest_unconfigure(config: pytest.Config) -> None:
    hold = config.stash.get(LIVE_HOLD_KEY, None)
    if hold is not None:
        hold.close()


def _deploys(item: pytest.Item) -> bool:
    return bool(DEPLOYING_FIXTURES & set(getattr(item, "fixturenames", ())))


def _asserts_the_account(item: pytest.Item) -> bool:
    """An `integration` test that takes `aws` without asking for the deployed stack."""
    names = set(getattr(item, "fixturenames", ()))
    return "aws" in names and not _deploys(item) and item.get_closest_marker("integration") is not None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test reading the account through `aws` after the stack under test was ended would query what is left of
    it (nothing): it fails naming the fixture that keeps the stack deployed for it."""
    state = item.config.stash.get(STATE_KEY, None)
    stack_run = state.stack_run if state is not None else None
    names = set(getattr(item, "fixturenames", ()))
    if "aws" in names and not _deploys(item) and stack_run is not None and stack_run.ending is not None:
        pytest.fail(
            f"{item.name} reads the account through `aws`, but the stack under test was already ended "
            f"({stack_run.ending.render().splitlines()[0]}): take `deployed_stack` in the test (or mark it "
            "`integration`), so it runs while the stack is deployed",
            pytrace=False,
        )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns xdist_group marks into scheduling groups
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests that use the deployed stack last, and keep them together.

    In one process every moto server shares one in-memory state, so tests that reset the emulator
    must run before the stack is applied; the stable sort moves only the deploying tests and keeps
    every other order as written. Under xdist, they get one `xdist_group`, so `--dist loadgroup`
    applies the stack once (the mark is added only when xdist is active: elsewhere it is unknown).
    """
    for item in items:
        if _asserts_the_account(item):
            # An integration test reading the account through `aws` means the deployed stack: it gets it, so
            # it is ordered and grouped with the other users and the stack is not ended before it.
            item.fixturenames.append("deployed_stack")  # type: ignore[attr-defined]
    if not any(_deploys(item) for item in items):
        return
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            if _deploys(item) and item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group("stackprobe-deployed-stack"))
    items.sort(key=_deploys)


def reproduce_command(config: pytest.Config, nodeid: str) -> str:
    """The one-line command that reruns `nodeid` against the same stack."""
    spec = _spec(config)
    parts = ["pytest", nodeid, f"--stackprobe-tf-dir={spec.tf_dir}"]
    parts += [f"--stackprobe-var-file={p}" for p in spec.var_files]
    parts += [f"--stackprobe-var={k}={v}" for k, v in spec.variables]
    parts += [f"--stackprobe-teardown-var={k}={v}" for k, v in spec.teardown_variables]
    if lifetime(config) == Lifetime.REUSE:
        parts.append("--stackprobe-reuse")
    return shlex.join(parts)


@pytest.fixture(scope="session")
def stack_spec(request: pytest.FixtureRequest) -> StackSpec:
    return _spec(request.config)


def check_settings(config: pytest.Config) -> CheckSettings:
    """How the checks judge and probe the stack under test, from the command line over the ini file."""
    return settings_of(config).checks


@pytest.fixture(scope="session")
def stacks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The session's Run: its emulator and every stack deployed in it; ended when the session ends.

    With --stackprobe-reuse or --keep-stack the emulator is the stack's live session's (attached to, or
    started now and left running), so `aws` and every check see the live stack.
    """
    from stackprobe.errors import StackprobeError
    from stackprobe.lifecycle.run import sigterm_as_interrupt
    from stackprobe.lifecycle.stack_run import RunContext, StackRun

    config = request.config
    state = config.stash[STATE_KEY]
    settings = settings_of(config)
    # The live session is held for the whole session by pytest_sessionstart (by the controller under xdist).
    context = RunContext(tmp_path_factory.mktemp("stackprobe"), session_held=True, purpose="pytest")
    with sigterm_as_interrupt():
        try:
            state.stack_run = StackRun.open(_spec(config), settings.run, context)
        except StackprobeError as exc:
            pytest.fail(f"starting the stack under test's run failed: {exc}", pytrace=False)
        state.notices += [f"{state.stack_run.spec.name}: {note}" for note in state.stack_run.notes]
        try:
            yield state.stack_run.run
        finally:
            for spec, ending in state.stack_run.close():
                state.notices.append(f"{spec.name}: {ending.render()}")


def _stack_run(config: pytest.Config) -> StackRun:
    stack_run = config.stash[STATE_KEY].stack_run
    assert stack_run is not None, "the stacks fixture opens it"
    return stack_run


@pytest.fixture(scope="session")
def aws_backend(stacks: Run) -> AwsBackend:
    """Endpoint, region, dummy credentials and capabilities of the emulator (guard already passed), once its
    starting inventory is recorded: what a test creates with it never counts as the account it started with."""
    from stackprobe.errors import StackprobeError

    try:
        return stacks.backend_after_warmup()
    except StackprobeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def clean_backend(stacks: Run) -> AwsBackend:
    """The emulator, emptied for this test (refused while the stack under test is deployed in it)."""
    from stackprobe.errors import StackprobeError

    if not stacks.owns_emulator:
        pytest.skip(
            "this test empties the emulator, and the emulator is a live session's: run it without --stackprobe-reuse"
        )
    try:
        return stacks.reset_emulator()
    except StackprobeError as exc:
        pytest.fail(str(exc), pytrace=False)


def _stack_region(config: pytest.Config, backend: AwsBackend) -> tuple[str, str]:
    """Where the stack under test lives, for `aws` clients created without a region (and why)."""
    stack_run = config.stash[STATE_KEY].stack_run
    deployment = stack_run.current() if stack_run is not None else None
    if deployment is not None and deployment.deployed is not None:
        return deployment.deployed.backend.region, "where the deployed stack's resources are"
    prepared = stack_run.run.prepared_if_made(stack_run.spec) if stack_run is not None else None
    planned = prepared.planned_regions() if prepared is not None else []
    if planned:
        return planned[0], "the region the stack's provider names in its plan"
    return backend.region, "the run's default region (the stack is neither planned nor deployed yet)"


@pytest.fixture(scope="session")
def aws(aws_backend: AwsBackend, request: pytest.FixtureRequest) -> AwsClients:
    """boto3 clients in the stack's own region (see `_stack_region`); `repr(aws)` says which and why."""
    from stackprobe.aws.clients import AwsClients

    return AwsClients(aws_backend, lambda: _stack_region(request.config, aws_backend))


def _seed(config: pytest.Config, run: Run, spec: StackSpec) -> bool:
    """Let the project's conftest create what the stack expects to exist already, once, before a plan.

    True when a hook did: the plan then reads what it made (fresh ids each run), so it is planned here,
    never read from the plan store.
    """
    state = config.stash[STATE_KEY]
    if settings_of(config).run.lifetime != Lifetime.EPHEMERAL:
        return False
    hooked = bool(config.pluginmanager.hook.pytest_stackprobe_prerequisites.get_hookimpls())
    if not state.seeded:
        state.seeded = True
        if hooked:
            from stackprobe.aws.clients import AwsClients

            clients = AwsClients(run.backend, lambda: _stack_region(config, run.backend))
            config.hook.pytest_stackprobe_prerequisites(aws=clients, spec=spec)
            run.seeded()
    return hooked


@pytest.fixture(scope="session")
def tf_plan(request: pytest.FixtureRequest, stacks: Run, stack_spec: StackSpec) -> Plan:
    """The pre-apply plan of the stack under test, as a Plan model (the plan store answers when it can)."""
    from stackprobe.errors import StackprobeError

    stack_run = _stack_run(request.config)
    try:
        seeded = _seed(request.config, stacks, stack_spec)
        return stacks.prepared(stack_spec).own_plan() if seeded else stack_run.plan_json()
    except StackprobeError as exc:
        pytest.fail(stack_run.failure_context(exc, "verify"), pytrace=False)


@pytest.fixture(scope="session")
def deployed_stack(request: pytest.FixtureRequest, stacks: Run, stack_spec: StackSpec) -> Iterator[DeployedStack]:
    """The stack under test, applied once for the session and ended after it.

    Ephemeral (the default): destroy is armed before apply, so a failed or partial apply, Ctrl-C or
    SIGTERM still ends in destroy, and teardown then proves the emulator holds nothing new, by listing
    it service by service rather than trusting the state file. With --stackprobe-reuse or --keep-stack,
    the stack is the live session's and is left running.

    On a backend that does not serve the whole plan (free LocalStack), the stack is planned there and
    applied on an embedded moto (the terminal summary names the services and resource types);
    `deployed_stack.backend` is where it lives.
    """
    from stackprobe.errors import StackprobeError

    state = request.config.stash[STATE_KEY]
    stack_run = _stack_run(request.config)
    try:
        _seed(request.config, stacks, stack_spec)
        deployed = stack_run.deploy()
    except StackprobeError as exc:
        pytest.fail(stack_run.failure_context(exc, "verify"), pytrace=False)
    finally:
        # Also after a failed deploy: a plan failing on what a fallback provider version lacks must name it.
        prepared = stack_run.run.prepared_if_made(stack_spec)
        if prepared is not None and prepared.initialised:
            fallbacks = prepared.provider_fallbacks()
            state.notices += [f"{stack_spec.name}: provider fallback: {pinned.describe()}" for pinned in fallbacks]
    state.notices += [f"{stack_spec.name}: {note}" for note in stack_run.notes]
    try:
        yield deployed
    finally:
        _fail_unless_clean(stack_run)  # at once when ended earlier (see pytest_runtest_teardown)


def _fail_unless_clean(stack_run: StackRun) -> None:
    from stackprobe.aws.inventory import TeardownReport

    ending = stack_run.end()
    if isinstance(ending, TeardownReport) and not ending.clean:
        deployment = stack_run.current()
        context = deployment.failure_context() if deployment is not None else ""
        pytest.fail(ending.render() + "\n\n" + context, pytrace=False)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """In an xdist worker, end the stack under test right after the last test that uses it.

    Those tests reach one worker as one xdist group, and the worker may be given other tests after
    them. Session fixtures end only with the session, so a later test that needs an empty emulator
    (the harness checks reset it) would find the stack still deployed and be refused. Without xdist,
    the tests that deploy run last (see pytest_collection_modifyitems) and the session's end ends it.
    """

    result = yield
    stack_run = item.config.stash[STATE_KEY].stack_run
    deployment = stack_run.current() if stack_run is not None else None
    last_user = nextitem is not None and _deploys(item) and not _deploys(nextitem)
    ending = last_user and hasattr(item.config, "workerinput") and stack_run is not None and stack_run.ending is None
    if ending and stack_run is not None and deployment is not None and deployment.armed:
        _fail_unless_clean(stack_run)
    return result


@pytest.fixture(scope="session")
def check_context(request: pytest.FixtureRequest, deployed_stack: DeployedStack) -> CheckContext:
    """What every check needs about the deployed stack: backend, plan, state, outputs, how to run its containers."""
    from stackprobe.lifecycle.context import build_context
    from stackprobe.testing import use_baseline

    # assert_check judges by the session's baseline, and names accepted findings among the session's notices.
    use_baseline(settings_of(request.config).report.baseline, request.config.stash[STATE_KEY].notices.append)
    return build_context(deployed_stack, check_settings(request.config))


@pytest.fixture(scope="session")
def stack_drift(request: pytest.FixtureRequest, deployed_stack: DeployedStack) -> DriftReport:
    """The second plan after apply, classified into known emulator drift and real drift."""
    return _stack_run(request.config).drift()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    state = item.config.stash.get(STATE_KEY, None)
    if state is None:
        return report
    # Through the report (not a terminal write) so that notices also cross from xdist workers; once
    # per notice and process, on the first report made after it.
    for notice in state.notices:
        if notice not in state.sent:
            state.sent.add(notice)
            report.user_properties.append((NOTICE_PROPERTY, notice))
    run = state.stack_run.run if state.stack_run is not None else None
    if report.failed and call.when in ("call", "setup") and run is not None and run.emulator is not None:
        report.sections.append(("stackprobe: reproduce", reproduce_command(item.config, item.nodeid)))
        if _served_during(run.emulator.request_log, call.start, call.stop):
            # Only a failure that involved the emulator gets its requests: anything else would be noise.
            report.sections.append(("stackprobe: emulator requests", run.emulator.request_log.render_tail(15)))
    return report


def _served_during(log: Any, start: float, stop: float) -> bool:
    """Whether the emulator served a request between `start` and `stop` (a log without records: assume so)."""
    tail = getattr(log, "tail", None)
    return tail is None or any(start <= record.at <= stop for record in tail(200))


class _Notices:
    """Collects stackprobe's notices from test reports (local or xdist) for the terminal summary."""

    def __init__(self) -> None:
        self.notices: dict[str, None] = {}  # ordered set

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == NOTICE_PROPERTY:
                self.notices[str(value)] = None

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        state = config.stash.get(STATE_KEY, None)
        # Notices made after the last report (the session's end: how the stack ended) are added here.
        for notice in state.notices if state is not None else []:
            self.notices[notice] = None
        if self.notices:
            terminalreporter.section("stackprobe", sep="=", yellow=True)
            for notice in self.notices:
                terminalreporter.write_line(notice)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from stackprobe.backends.guard import ignored_from_environment

    settings = settings_of(config)
    spec = _spec(config)
    files = ", ".join(os.path.relpath(p) for p in spec.var_files) or "none"
    backend = settings.run.backend
    lines = [
        f"stackprobe: backend={backend} tf-dir={spec.tf_dir} var-files={files} stack={settings.run.lifetime.value}"
    ]
    if settings.run.lifetime != Lifetime.EPHEMERAL:
        from stackprobe.lifecycle.live import LiveSessions

        session = LiveSessions(settings.run.cache_dir).load(spec)
        lines.append(
            f"stackprobe: attaching to the live session of {spec.name} at {session.endpoint}"
            if session is not None
            else f"stackprobe: no live session of {spec.name} runs: one is started and left running"
        )
    ignored = ignored_from_environment(os.environ)
    if ignored:
        lines.append(f"stackprobe: ignored from the environment (the emulator's replace them): {', '.join(ignored)}")
    return lines
