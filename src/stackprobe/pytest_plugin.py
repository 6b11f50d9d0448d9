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
from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.errors import StackprobeError
from stackprobe.session import StackSession, sigterm_as_interrupt
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.stack import DeployedStack
from stackprobe.terraform.drift import DriftReport
from stackprobe.terraform.plan import Plan

MARKERS = {
    "unit": "plan-level tests: read `terraform show -json`, apply nothing",
    "integration": "deployed-state tests: apply to the emulator, then assert with boto3",
    "harness": "tests of stackprobe itself (failure handling, guard, compatibility patches)",
    "mutants": "mutation tests: every catalogued defect must be caught by a check",
}
SESSION_KEY = pytest.StashKey[StackSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackprobe", "stackprobe: Terraform on an emulated AWS")
    group.addoption(
        "--stackprobe-backend",
        choices=("moto",),
        default=None,
        help="emulator backend (default: moto, embedded in the test process)",
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
        "--keep-stack",
        action="store_true",
        default=False,
        help="do not destroy the deployed stack at the end; keep its workspace",
    )
    group.addoption(
        "--reuse-stack",
        action="store_true",
        default=False,
        help="reuse a stack kept by --keep-stack when its configuration is unchanged",
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
    parser.addini("stackprobe_vars", "NAME=VALUE variables for the stack under test", type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run tests that deploy a stack last, and keep them together.

    In one process every moto server shares one in-memory state, so tests that reset the emulator
    must run before a session stack is applied; the stable sort keeps every other order as written.
    Under xdist, the same tests get one `xdist_group`, so `--dist loadgroup` applies the stack once.
    """

    def deploys(item: pytest.Item) -> bool:
        return (
            "deployed_stack" in getattr(item, "fixturenames", ()) or item.get_closest_marker("integration") is not None
        )

    for item in items:
        if deploys(item):
            item.add_marker(pytest.mark.xdist_group("stackprobe-deployed-stack"))
    items.sort(key=deploys)


def _settings(config: pytest.Config) -> RunSettings:
    return RunSettings(
        backend=config.getoption("--stackprobe-backend") or "moto",
        terraform_binary=config.getoption("--stackprobe-terraform"),
        provider_mirror=config.getoption("--stackprobe-provider-mirror"),
        moto_port=config.getoption("--stackprobe-moto-port"),
        apply_timeout=config.getoption("--stackprobe-timeout"),
        keep_stack=config.getoption("--keep-stack"),
        reuse_stack=config.getoption("--reuse-stack"),
    )


def _spec(config: pytest.Config) -> StackSpec:
    root = Path(str(config.rootpath))

    def resolve(value: str, from_ini: bool) -> Path:
        path = Path(value)
        return path if path.is_absolute() else (root / path if from_ini else Path.cwd() / path)

    cli_dir = config.getoption("--stackprobe-tf-dir")
    tf_dir = resolve(cli_dir, False) if cli_dir else resolve(str(config.getini("stackprobe_tf_dir")), True)
    cli_files = config.getoption("--stackprobe-var-file")
    var_files = (
        [resolve(f, False) for f in cli_files]
        if cli_files
        else [resolve(f, True) for f in config.getini("stackprobe_var_files")]
    )
    raw_vars = list(config.getini("stackprobe_vars")) + list(config.getoption("--stackprobe-var") or [])
    variables: dict[str, str] = {}
    for item in raw_vars:
        name, sep, value = item.partition("=")
        if not sep:
            raise pytest.UsageError(f"--stackprobe-var expects NAME=VALUE, got {item!r}")
        variables[name.strip()] = value
    return StackSpec(
        tf_dir=tf_dir.resolve(),
        var_files=tuple(p.resolve() for p in var_files),
        variables=tuple(sorted(variables.items())),
    )


def reproduce_command(config: pytest.Config, nodeid: str) -> str:
    """The one-line command that reruns `nodeid` against the same stack."""
    spec = _spec(config)
    parts = ["pytest", nodeid, f"--stackprobe-tf-dir={spec.tf_dir}"]
    parts += [f"--stackprobe-var-file={p}" for p in spec.var_files]
    parts += [f"--stackprobe-var={k}={v}" for k, v in spec.variables]
    return shlex.join(parts)


@pytest.fixture(scope="session")
def stacks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSession]:
    """The session's emulator and stacks; tears every stack down at the end (unless --keep-stack)."""
    config = request.config
    session = StackSession(_settings(config), tmp_path_factory.mktemp("stackprobe"))
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

    Destroy is registered before apply (StackUnderTest arms it), so a failed or partial apply, Ctrl-C
    or SIGTERM still ends in destroy. Teardown then proves the emulator holds nothing new, by
    listing it service by service rather than trusting the state file.
    """
    stack = stacks.stack(stack_spec)
    try:
        try:
            deployed = stacks.deploy(stack_spec)
        except StackprobeError as exc:
            pytest.fail(stack.failure_context(exc), pytrace=False)
        yield deployed
    finally:
        if not stacks.settings.keep_stack:
            report = stack.teardown()
            if not report.clean:
                pytest.fail(report.render() + "\n\n" + stack.failure_context(), pytrace=False)


@pytest.fixture(scope="session")
def stack_drift(stacks: StackSession, stack_spec: StackSpec, deployed_stack: DeployedStack) -> DriftReport:
    """The second plan after apply, classified into known emulator drift and real drift."""
    _, report = stacks.stack(stack_spec).second_plan()
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and call.when in ("call", "setup"):
        session = item.config.stash.get(SESSION_KEY, None)
        if session is not None and session.emulator is not None:
            report.sections.append(("stackprobe: reproduce", reproduce_command(item.config, item.nodeid)))
            report.sections.append(("stackprobe: emulator requests", session.emulator.request_log.render_tail(15)))
    return report


def pytest_report_header(config: pytest.Config) -> str:
    spec = _spec(config)
    files = ", ".join(os.path.relpath(p) for p in spec.var_files) or "none"
    return f"stackprobe: backend={config.getoption('--stackprobe-backend') or 'moto'} tf-dir={spec.tf_dir} var-files={files}"
