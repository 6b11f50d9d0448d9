"""stackprobe's pytest plugin: options, markers and fixtures (and nothing else).

Fixtures are nouns named after what they return:
- `aws_backend`: the emulator's endpoint, region, dummy identity and capabilities;
- `aws`: boto3 clients bound to it (`aws.s3`, `aws.client("ecs")`);
- `stack_spec`: the configuration under test, from the command line or ini options;
- `tf_plan`: the parsed pre-apply plan of that configuration;
- `deployed_stack`: the configuration applied once per session (destroy armed before apply);
- `stack_drift`: the second plan after apply, split into emulator drift and real drift;
- `stacks`: the session's StackSession, to plan or deploy other configurations.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks.base import CheckContext
from stackprobe.context import build_context
from stackprobe.errors import StackprobeError
from stackprobe.session import StackSession, sigterm_as_interrupt
from stackprobe.settings import CheckSettings, RunSettings, StackSpec
from stackprobe.stack import DeployedStack, StackUnderTest
from stackprobe.terraform.drift import DriftReport
from stackprobe.terraform.plan import Plan

MARKERS = {
    "unit": "plan-level tests: read `terraform show -json`, apply nothing",
    "integration": "deployed-state tests: apply to the emulator, then assert with boto3",
    "harness": "tests of stackprobe itself (failure handling, guard, compatibility patches)",
    "mutants": "mutation tests: every catalogued defect must be caught by a check",
}
SESSION_KEY = pytest.StashKey[StackSession]()
DEFERRED_PROPERTY = "stackprobe-deferred-apply"
DEFERRED_SENT_KEY = pytest.StashKey[set[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackprobe", "stackprobe: Terraform on an emulated AWS")
    group.addoption(
        "--stackprobe-backend",
        choices=("moto", "localstack"),
        default=None,
        help="emulator backend (default: moto, embedded in the test process; localstack: a running one at "
        "--stackprobe-endpoint / $AWS_ENDPOINT_URL, a container, or the open-source runtime started on the host)",
    )
    group.addoption(
        "--stackprobe-endpoint",
        default=None,
        metavar="URL",
        help="a running LocalStack on loopback, for --stackprobe-backend=localstack",
    )
    group.addoption(
        "--stackprobe-tf-dir",
        default=None,
        metavar="DIR",
        help="Terraform root module under test (ini: stackprobe_tf_dir)",
    )
    group.addoption(
        "--stackprobe-var-file",
        action="append",
        default=None,
        metavar="FILE",
        help="a .tfvars file for the stack under test; repeatable (ini: stackprobe_var_files)",
    )
    group.addoption(
        "--stackprobe-var",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="a -var for the stack under test; repeatable (ini: stackprobe_vars)",
    )
    group.addoption(
        "--stackprobe-teardown-var",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="a -var applied only just before destroy (e.g. to lift deletion protection); repeatable "
        "(ini: stackprobe_teardown_vars)",
    )
    group.addoption(
        "--stackprobe-app-dir",
        default=None,
        metavar="DIR",
        help="the application live probes run, as its task definitions say (ini: stackprobe_app_dir)",
    )
    group.addoption(
        "--stackprobe-container",
        action="append",
        default=None,
        metavar="NAME=COMMAND",
        help="how to run the task definitions' container NAME locally for live probes: a command (run from the "
        "app dir, with the container's environment and PORT), or docker:IMAGE; repeatable (ini: stackprobe_containers)",
    )
    group.addoption(
        "--stackprobe-environment",
        choices=("production", "staging", "development", "auto"),
        default=None,
        help="the environment the stack is judged as (default auto: from tags, variables and var files; "
        "production rules when nothing says) (ini: stackprobe_environment)",
    )
    group.addoption(
        "--keep-stack",
        action="store_true",
        default=False,
        help="do not destroy the deployed stack at the end; keep its workspace",
    )
    group.addoption(
        "--stackprobe-terraform",
        default=None,
        metavar="BINARY",
        help="terraform or tofu binary (default: $STACKPROBE_TERRAFORM_BINARY, then terraform)",
    )
    group.addoption(
        "--stackprobe-provider-mirror",
        default=None,
        metavar="DIR",
        help="provider filesystem mirror (default: $STACKPROBE_PROVIDER_MIRROR, then discovered)",
    )
    group.addoption(
        "--stackprobe-moto-port",
        type=int,
        default=0,
        metavar="PORT",
        help="port for the embedded moto server (default: 0, a free port)",
    )
    group.addoption(
        "--stackprobe-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="timeout for terraform apply and destroy (default: 1800)",
    )
    parser.addini("stackprobe_tf_dir", "Terraform root module under test", default="terraform")
    parser.addini("stackprobe_var_files", "var files for the stack under test", type="linelist", default=[])
    parser.addini(
        "stackprobe_backend_var_files",
        "BACKEND=PATH lines: with --stackprobe-backend=BACKEND these var files replace stackprobe_var_files "
        "(e.g. localstack=terraform/environments/localstack-community.tfvars; --stackprobe-var-file still wins)",
        type="linelist",
        default=[],
    )
    parser.addini("stackprobe_vars", "NAME=VALUE variables for the stack under test", type="linelist", default=[])
    parser.addini(
        "stackprobe_teardown_vars", "NAME=VALUE variables applied just before destroy", type="linelist", default=[]
    )
    parser.addini("stackprobe_app_dir", "where local container commands run from (default: the tf dir)", default="")
    parser.addini(
        "stackprobe_containers",
        "NAME=COMMAND lines: how to run each container of the task definitions locally (or NAME=docker:IMAGE)",
        type="linelist",
        default=[],
    )
    parser.addini("stackprobe_environment", "production | staging | development | auto (the default)", default="auto")


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    config.pluginmanager.register(_DeferredApplyNotices(), "stackprobe-deferred-apply")


def _deploys(item: pytest.Item) -> bool:
    return "deployed_stack" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns xdist_group marks into scheduling groups
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run tests that deploy a stack last, and keep them together.

    In one process every moto server shares one in-memory state, so tests that reset the emulator
    must run before a session stack is applied; the stable sort keeps every other order as written.
    Under xdist, the same tests get one `xdist_group`, so `--dist loadgroup` applies the stack once.
    """

    def order(item: pytest.Item) -> int:
        # Mutants change the deployed stack, so they run after every test that reads it.
        return 2 if item.get_closest_marker("mutants") else (1 if _deploys(item) else 0)

    for item in items:
        if _deploys(item) and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("stackprobe-deployed-stack"))
    items.sort(key=order)


def _settings(config: pytest.Config) -> RunSettings:
    return RunSettings(
        backend=config.getoption("--stackprobe-backend") or "moto",
        terraform_binary=config.getoption("--stackprobe-terraform"),
        provider_mirror=config.getoption("--stackprobe-provider-mirror"),
        moto_port=config.getoption("--stackprobe-moto-port"),
        endpoint=config.getoption("--stackprobe-endpoint"),
        apply_timeout=config.getoption("--stackprobe-timeout"),
        keep_stack=config.getoption("--keep-stack"),
    )


def _shared_plans_dir(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this run's processes share pre-apply plans: beside every xdist worker's own base temp."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if hasattr(config, "workerinput") else base) / "stackprobe-shared-plans"


def _spec(config: pytest.Config) -> StackSpec:
    root = Path(str(config.rootpath))

    def resolve(value: str, from_ini: bool) -> Path:
        path = Path(value)
        return path if path.is_absolute() else (root / path if from_ini else Path.cwd() / path)

    cli_dir = config.getoption("--stackprobe-tf-dir")
    tf_dir = resolve(cli_dir, False) if cli_dir else resolve(str(config.getini("stackprobe_tf_dir")), True)
    cli_files = config.getoption("--stackprobe-var-file")
    if cli_files:
        var_files = [resolve(f, False) for f in cli_files]
    else:
        ini_files = backend_var_files(config) or list(config.getini("stackprobe_var_files"))
        var_files = [resolve(f, True) for f in ini_files]
    return StackSpec(
        tf_dir=tf_dir.resolve(),
        var_files=tuple(p.resolve() for p in var_files),
        variables=_pairs(config, "stackprobe_vars", "--stackprobe-var"),
        teardown_variables=_pairs(config, "stackprobe_teardown_vars", "--stackprobe-teardown-var"),
    )


def backend_var_files(config: pytest.Config) -> list[str]:
    """The stackprobe_backend_var_files entries for the chosen backend, in order (empty when none)."""
    backend = config.getoption("--stackprobe-backend") or "moto"
    found = []
    for line in config.getini("stackprobe_backend_var_files"):
        name, sep, path = line.partition("=")
        if not sep or not path.strip():
            raise pytest.UsageError(f"stackprobe_backend_var_files expects BACKEND=PATH lines, got {line!r}")
        if name.strip() == backend:
            found.append(path.strip())
    return found


def _pairs(config: pytest.Config, ini: str, option: str) -> tuple[tuple[str, str], ...]:
    """NAME=VALUE items from the ini file, then the command line (which wins)."""
    found: dict[str, str] = {}
    for item in list(config.getini(ini)) + list(config.getoption(option) or []):
        name, sep, value = item.partition("=")
        if not sep:
            raise pytest.UsageError(f"{option} expects NAME=VALUE, got {item!r}")
        found[name.strip()] = value
    return tuple(sorted(found.items()))


def check_settings(config: pytest.Config) -> CheckSettings:
    """How the checks judge and probe the stack under test, from the command line over the ini file."""
    value = config.getoption("--stackprobe-app-dir") or str(config.getini("stackprobe_app_dir"))
    app_dir = None
    if value:
        path = Path(value)
        app_dir = (path if path.is_absolute() else Path(str(config.rootpath)) / path).resolve()
    environment = config.getoption("--stackprobe-environment") or str(config.getini("stackprobe_environment"))
    commands = _pairs(config, "stackprobe_containers", "--stackprobe-container")
    reduced = None
    backend_files = backend_var_files(config)
    if backend_files and not config.getoption("--stackprobe-var-file"):
        # What the backend does not serve was left out of the stack, so assert_check skips (not fails)
        # a check that finds nothing of its kind, naming the subset.
        backend = config.getoption("--stackprobe-backend") or "moto"
        subset = ", ".join(backend_files)
        reduced = f"the stack deployed for {backend} ({subset}: the subset of the stack that {backend} serves)"
    return CheckSettings(
        app_dir=app_dir,
        container_commands=commands,
        environment=None if environment == "auto" else environment,
        reduced_stack=reduced,
    )


def reproduce_command(config: pytest.Config, nodeid: str) -> str:
    """The one-line command that reruns `nodeid` against the same stack."""
    spec = _spec(config)
    parts = ["pytest", nodeid, f"--stackprobe-tf-dir={spec.tf_dir}"]
    parts += [f"--stackprobe-var-file={p}" for p in spec.var_files]
    parts += [f"--stackprobe-var={k}={v}" for k, v in spec.variables]
    parts += [f"--stackprobe-teardown-var={k}={v}" for k, v in spec.teardown_variables]
    return shlex.join(parts)


@pytest.fixture(scope="session")
def stacks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSession]:
    """The session's emulator and stacks; tears every stack down at the end (unless --keep-stack)."""
    config = request.config
    settings = replace(_settings(config), shared_plans=_shared_plans_dir(config, tmp_path_factory))
    session = StackSession(settings, tmp_path_factory.mktemp("stackprobe"))
    config.stash[SESSION_KEY] = session
    with sigterm_as_interrupt():
        yield session
    if not session.settings.keep_stack:
        session.close()
    elif session.emulator is not None:
        session.emulator.stop()


@pytest.fixture(scope="session")
def aws_backend(stacks: StackSession) -> AwsBackend:
    """Endpoint, region, dummy credentials and capabilities of the emulator (guard already passed)."""
    try:
        return stacks.backend
    except StackprobeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def clean_backend(stacks: StackSession) -> AwsBackend:
    """The emulator, emptied for this test (refused while a session stack is deployed in it)."""
    try:
        return stacks.reset_emulator()
    except StackprobeError as exc:
        pytest.fail(str(exc), pytrace=False)


class AwsClients:
    """boto3 clients bound to the backend: `aws.s3`, `aws.client("ecs", region_name=...)`."""

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend

    def client(self, service: str, region_name: str | None = None) -> Any:
        return self.backend.client(service, region_name=region_name)

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        return self.backend.client(service.replace("_", "-"))


@pytest.fixture(scope="session")
def aws(aws_backend: AwsBackend) -> AwsClients:
    return AwsClients(aws_backend)


@pytest.fixture(scope="session")
def stack_spec(request: pytest.FixtureRequest) -> StackSpec:
    return _spec(request.config)


@pytest.fixture(scope="session")
def tf_plan(stacks: StackSession, stack_spec: StackSpec, aws_backend: AwsBackend) -> Plan:
    """The pre-apply plan of the stack under test, as a Plan model."""
    try:
        return stacks.plan(stack_spec)
    except StackprobeError as exc:
        pytest.fail(stacks.stack(stack_spec).failure_context(exc), pytrace=False)


@pytest.fixture(scope="session")
def deployed_stack(stacks: StackSession, stack_spec: StackSpec, aws_backend: AwsBackend) -> Iterator[DeployedStack]:
    """The stack under test, applied once for the session and destroyed after it.

    On LocalStack, a stack that needs services it does not serve is planned there and applied on an
    embedded moto (the terminal summary names the services and resource types); `deployed_stack.backend`
    is where it lives.

    Destroy is registered before apply (StackUnderTest arms it), so a failed or partial apply, Ctrl-C
    or SIGTERM still ends in destroy. Teardown then proves the emulator holds nothing new, by
    listing it service by service rather than trusting the state file.
    """
    try:
        try:
            deployed = stacks.deploy(stack_spec)
        except StackprobeError as exc:
            pytest.fail(stacks.stack(stack_spec).failure_context(exc), pytrace=False)
        yield deployed
    finally:
        # Looked up now, not before deploy: on LocalStack the apply may have been deferred to moto.
        stack = stacks.stack(stack_spec)
        if not stacks.settings.keep_stack and stack.teardown_report is None:  # else: torn down early
            _teardown_or_fail(stack)


def _teardown_or_fail(stack: StackUnderTest) -> None:
    report = stack.teardown()
    if not report.clean:
        pytest.fail(report.render() + "\n\n" + stack.failure_context(), pytrace=False)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """In an xdist worker, destroy the stack under test right after the last test that uses it.

    Those tests reach one worker as one xdist group, and the worker may be given other tests after
    them. Session fixtures end only with the session, so a later test that needs an empty emulator
    (the harness checks reset it) would find the stack still deployed and be refused; it happened once
    the deployed stack's chain got faster than the rest of the suite. Without xdist, the tests that
    deploy run last (see pytest_collection_modifyitems) and the session's end destroys the stack.
    """
    result = yield
    session = item.config.stash.get(SESSION_KEY, None)
    last_user = nextitem is not None and _deploys(item) and not _deploys(nextitem)
    if last_user and hasattr(item.config, "workerinput") and session is not None and not session.settings.keep_stack:
        stack = session.stack(_spec(item.config))
        if stack.teardown_report is None:
            _teardown_or_fail(stack)
    return result


@pytest.fixture(scope="session")
def check_context(
    request: pytest.FixtureRequest, stacks: StackSession, stack_spec: StackSpec, deployed_stack: DeployedStack
) -> CheckContext:
    """What every check needs about the deployed stack: backend, plan, state, outputs and the app."""
    return build_context(stacks.stack(stack_spec), check_settings(request.config))


@pytest.fixture(scope="session")
def stack_drift(stacks: StackSession, stack_spec: StackSpec, deployed_stack: DeployedStack) -> DriftReport:
    """The second plan after apply, classified into known emulator drift and real drift."""
    _, report = stacks.stack(stack_spec).second_plan()
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    session = item.config.stash.get(SESSION_KEY, None)
    if session is not None:
        # Through a report (not a terminal write) so that the notice also crosses from xdist workers;
        # once per notice and process, on the first report made after the deferral.
        sent = item.config.stash.setdefault(DEFERRED_SENT_KEY, set())
        for notice in (d.describe() for d in session.deferrals()):
            if notice not in sent:
                sent.add(notice)
                report.user_properties.append((DEFERRED_PROPERTY, notice))
    if report.failed and call.when in ("call", "setup") and session is not None and session.emulator is not None:
        report.sections.append(("stackprobe: reproduce", reproduce_command(item.config, item.nodeid)))
        report.sections.append(("stackprobe: emulator requests", session.emulator.request_log.render_tail(15)))
    return report


class _DeferredApplyNotices:
    """Collects the deferred-apply notices from test reports (local or xdist) for the terminal summary."""

    def __init__(self) -> None:
        self.notices: dict[str, None] = {}  # ordered set

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == DEFERRED_PROPERTY:
                self.notices[str(value)] = None

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.notices:
            terminalreporter.section("stackprobe: apply deferred to the embedded moto", sep="=", yellow=True)
            for notice in self.notices:
                terminalreporter.write_line(notice)


def pytest_report_header(config: pytest.Config) -> str:
    spec = _spec(config)
    files = ", ".join(os.path.relpath(p) for p in spec.var_files) or "none"
    backend = config.getoption("--stackprobe-backend") or "moto"
    return f"stackprobe: backend={backend} tf-dir={spec.tf_dir} var-files={files}"
