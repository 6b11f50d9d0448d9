"""Every setting of a run, declared once, and the frozen objects they are normalised into.

`SETTINGS` is the one table: each `Setting` names its type, default, help, command-line flag, pytest
option, ini key and the CLI verbs that take it. The CLI's argparse parser (`add_arguments`) and the
plugin's options and ini keys (`add_pytest_options`) are generated from it; the values each front-end
collects (`raw_from_namespace`, `raw_from_pytest`) go through one `normalise`, which returns a frozen
`Settings`: variables as an order-independent mapping (the last value given for a name wins, as with
terraform's own -var), paths resolved. Live-session keys and digests are computed from that object
only, so `stackprobe up DIR --var b=2 --var a=1` and a pytest run with `stackprobe_vars = ["a=1", "b=2"]`
name the same stack.

Importing this module imports neither pytest nor anything heavy: the plugin imports it at start-up.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import yaml

from stackprobe.backends.registry import NAMES as BACKENDS
from stackprobe.errors import InputError, StackprobeError

DEFAULT_REGION = "eu-west-1"
# Declared requirements of a configuration, beside its .tf files (see stackprobe.checks.requirements).
REQUIREMENTS_FILE = "stackprobe-requirements.yaml"
REPORT_FORMATS = ("text", "md", "json", "junit", "sarif")
ENVIRONMENTS = ("production", "staging", "development", "auto")


def default_cache_dir() -> Path:
    """Per-user cache: terraform init results, the plan store, live sessions ($STACKPROBE_CACHE_DIR overrides)."""
    override = os.environ.get("STACKPROBE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    return Path(base) / "stackprobe"


class SettingsError(InputError):
    """A setting's value cannot be used (a malformed NAME=VALUE, an unknown choice, a file that is not there)."""


Pairs = tuple[tuple[str, str], ...]


def normalise_pairs(items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Pairs:
    """NAME=VALUE pairs as an order-independent value: sorted by name, the last value given for a name kept."""
    merged: dict[str, str] = {}
    for name, value in items.items() if isinstance(items, Mapping) else items:
        merged[str(name).strip()] = str(value)
    return tuple(sorted(merged.items()))


def parse_pairs(items: Iterable[str], option: str) -> Pairs:
    """`NAME=VALUE` strings (in the order given: a later one for the same name wins) as normalised pairs."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SettingsError(f"{option} expects NAME=VALUE, got {item!r}", f"write it as {option} NAME=VALUE.")
        pairs.append((name.strip(), value))
    return normalise_pairs(pairs)


# -- the normalised objects -------------------------------------------------------------------------
class Lifetime(StrEnum):
    """What becomes of the stack under test when the run ends."""

    EPHEMERAL = "ephemeral"  # destroyed, and the emulator proven to hold nothing it created
    KEEP = "keep"  # kept running in a new live session (--keep-stack)
    REUSE = "reuse"  # attached to its live session, or one is started; kept running (--reuse)


@dataclass(frozen=True)
class RunSettings:
    """Everything a run needs besides the configuration itself."""

    backend: str = "moto"
    region: str = DEFAULT_REGION
    terraform_binary: str | None = None
    provider_mirror: str | None = None
    moto_port: int = 0
    endpoint: str | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    apply_timeout: float = 1800.0
    parallelism: int = 10
    lifetime: Lifetime = Lifetime.EPHEMERAL
    # Where pre-apply plans are kept by digest (see stackprobe.lifecycle.plan_store); None: no plan store.
    plan_store: Path | None = None
    # Seconds without a request after which a live session's detached emulator stops itself (0: never).
    idle_ttl: float = 8 * 3600.0
    # Test with the newest mirrored version of a provider whose constraint or lock file the mirror cannot satisfy.
    provider_fallback: bool = False
    # Create, before the plan, what the configuration names but does not create (stackprobe.lifecycle.stand_ins).
    stand_ins: bool = True


@dataclass(frozen=True)
class CheckSettings:
    """How checks judge a deployed stack and probe it live, as the user configured it."""

    # Where local container commands run from (default: the Terraform directory).
    app_dir: Path | None = None
    # (container name, COMMAND or docker:IMAGE): how to run each container of the task definitions locally.
    container_commands: Pairs = ()
    # production | staging | development, as declared; None decides from tags, variables and var files.
    environment: str | None = None
    # Names the subset when the stack is a backend's reduced variant (see stackprobe.testing.assert_check).
    reduced_stack: str | None = None
    # `auto`, ADDRESS=ENGINE[:MAJOR]: the deployed datastores a real local server stands in for (stackprobe.datastores).
    datastores: tuple[str, ...] = ()
    # (ADDRESS, FILE): the SQL the operator runs once as the master user on the datastore ADDRESS names (FILE
    # resolved, known to be readable).
    datastore_sql: tuple[tuple[str, Path], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "container_commands", normalise_pairs(self.container_commands))


@dataclass(frozen=True)
class StackSpec:
    """A configuration to deploy: the directory, its variable files and -var values.

    Normalised on construction, whoever builds it: the directory and var files resolved to absolute paths,
    variables as sorted pairs (one per name), so equal stacks compare, hash and key equal.
    """

    tf_dir: Path
    var_files: tuple[Path, ...] = ()
    variables: Pairs = ()
    # Applied just before destroy, e.g. a test-only switch that lifts deletion protection. Checks see
    # the stack exactly as configured; only teardown sees these.
    teardown_variables: Pairs = ()
    # A configuration applied first, on the same emulator: what this one expects to exist already (an
    # existing VPC, a certificate, a hosted zone). Its outputs become this one's variables of the same
    # name (a -var the user gave wins); it is destroyed after this one.
    prerequisites: StackSpec | None = None
    # Files or directories outside tf_dir the configuration reads, brought into the workspace at the same
    # relative place (`--include`; what the configuration's own expressions name is found without it).
    include: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "include", tuple(Path(p).resolve() for p in self.include))
        object.__setattr__(self, "tf_dir", Path(self.tf_dir).resolve())
        object.__setattr__(self, "var_files", tuple(Path(p).resolve() for p in self.var_files))
        object.__setattr__(self, "variables", normalise_pairs(self.variables))
        object.__setattr__(self, "teardown_variables", normalise_pairs(self.teardown_variables))

    @property
    def name(self) -> str:
        suffix = "+".join(p.stem for p in self.var_files)
        return f"{self.tf_dir.name}{'[' + suffix + ']' if suffix else ''}"

    def cli_arguments(self) -> str:
        """How to say this spec on the stackprobe command line (used in reproduce hints)."""
        parts = [str(self.tf_dir)]
        parts += [f"--var-file {p}" for p in self.var_files]
        parts += [f"--var {k}={v}" for k, v in self.variables]
        parts += [f"--teardown-var {k}={v}" for k, v in self.teardown_variables]
        if self.prerequisites is not None:
            parts.append(f"--prerequisites {self.prerequisites.tf_dir}")
        parts += [f"--include {p}" for p in self.include]
        return " ".join(parts)


@dataclass(frozen=True)
class ReportSettings:
    """What the CLI prints and writes at the end of a run."""

    format: str = "text"
    outputs: tuple[Path, ...] = ()
    quiet: bool = False
    fail_on: str = "high"
    improvements: Path | None = None
    # Findings accepted before (`--baseline`): only findings not in it fail the run.
    baseline: Path | None = None
    # Where to record today's findings as a baseline (`--write-baseline`).
    write_baseline: Path | None = None


@dataclass(frozen=True)
class Settings:
    """A run's settings, normalised once from whichever front-end collected them."""

    stack: StackSpec | None
    run: RunSettings
    checks: CheckSettings
    report: ReportSettings = ReportSettings()
    # Check ids or patterns to run, and to skip (both empty: every check).
    only_checks: tuple[str, ...] = ()
    skip_checks: tuple[str, ...] = ()


def load_requirements(tf_dir: Path) -> dict[str, Any]:
    """The configuration's declared requirements, or {} when it declares none."""
    path = tf_dir / REQUIREMENTS_FILE
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise StackprobeError(f"{path} is not a mapping", "write it as `name: value` lines.")
    return loaded


# -- the table --------------------------------------------------------------------------------------
class Kind(StrEnum):
    TEXT = "text"
    PATH = "path"
    PATHS = "paths"  # repeatable; a command-line list replaces the ini list
    PAIRS = "pairs"  # repeatable NAME=VALUE; command-line values are merged over the ini's, name by name
    NAMES = "names"  # repeatable, or comma-separated
    INT = "int"
    FLOAT = "float"
    FLAG = "flag"


STACK_VERBS = frozenset({"verify", "audit", "up", "down", "mutate", "parity"})
RUN_VERBS = frozenset({"verify", "audit", "up", "down", "mutate", "parity"})
CHECK_VERBS = frozenset({"verify", "audit", "up", "mutate", "parity"})
VERIFY_VERBS = frozenset({"verify", "audit"})


@dataclass(frozen=True)
class Setting:
    """One setting: how each front-end spells it, and which CLI verbs take it."""

    name: str
    kind: Kind
    help: str
    default: Any = None
    cli: str | None = None  # the CLI flag, or None: not on the stackprobe command line
    pytest: str | None = None  # the pytest option, or None: not a pytest option
    ini: str | None = None  # the ini key (pytest.ini, pyproject.toml, ...), or None
    verbs: frozenset[str] = frozenset()
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    ini_default: Any = None  # a default that only the ini key has (tf_dir: "terraform")
    # Kind.PAIRS whose VALUE is a path: relative to the working directory on a command line, to the ini's directory
    # in an ini file (each pair as its own source says, also when both give some).
    path_values: bool = False


# fmt: off
SETTINGS: tuple[Setting, ...] = (
    # the stack
    Setting(
        "tf_dir", Kind.PATH, "Terraform root module directory", verbs=STACK_VERBS | {"status"},
        pytest="--stackprobe-tf-dir", ini="stackprobe_tf_dir", ini_default="terraform", metavar="DIR",
    ),
    Setting(
        "var_files", Kind.PATHS, "a .tfvars file (repeatable)", default=(), cli="--var-file",
        pytest="--stackprobe-var-file", ini="stackprobe_var_files", verbs=STACK_VERBS, metavar="FILE",
    ),
    Setting(
        "variables", Kind.PAIRS, "a -var (repeatable)", default=(), cli="--var", pytest="--stackprobe-var",
        ini="stackprobe_vars", verbs=STACK_VERBS, metavar="NAME=VALUE",
    ),
    Setting(
        "teardown_variables", Kind.PAIRS,
        "a -var applied only just before destroy, e.g. a test-only switch that lifts deletion protection (repeatable)",
        default=(), cli="--teardown-var", pytest="--stackprobe-teardown-var", ini="stackprobe_teardown_vars",
        verbs=STACK_VERBS, metavar="NAME=VALUE",
    ),
    Setting(
        "prerequisites", Kind.PATH,
        "a configuration applied first, on the same emulator, holding what DIR expects to exist already (a VPC, a "
        "certificate, a zone); its outputs become DIR's variables of the same name",
        cli="--prerequisites", pytest="--stackprobe-prerequisites", ini="stackprobe_prerequisites",
        verbs=STACK_VERBS, metavar="DIR",
    ),
    Setting(
        "include", Kind.PATHS,
        "a file or directory outside DIR that the configuration reads, copied into the workspace at the same relative "
        "place (what file(), templatefile() and the like name is found without it); repeatable",
        default=(), cli="--include", pytest="--stackprobe-include", ini="stackprobe_include", verbs=STACK_VERBS,
        metavar="PATH",
    ),
    Setting(
        "backend_var_files", Kind.PAIRS,
        "BACKEND=PATH lines: with that backend these var files replace stackprobe_var_files (e.g. "
        "localstack=terraform/environments/localstack-community.tfvars; --stackprobe-var-file still wins)",
        default=(), ini="stackprobe_backend_var_files",
    ),
    # how the checks judge and probe it
    Setting(
        "containers", Kind.PAIRS,
        "how to run the task definitions' container NAME locally for the live probes: a command (run from the app "
        "dir, with the container's environment and PORT set to a free port; {port} is replaced by it), or "
        "docker:IMAGE (needs a Docker engine); repeatable",
        default=(), cli="--container", pytest="--stackprobe-container", ini="stackprobe_containers",
        verbs=CHECK_VERBS, metavar="NAME=COMMAND",
    ),
    Setting(
        "datastores", Kind.NAMES,
        "a real local server behind a deployed datastore, for the containers the live probes run: `auto` (each RDS "
        "instance, Aurora cluster and ElastiCache Redis; their proxies and replicas too), or ADDRESS=ENGINE with "
        "ENGINE postgres, mysql or redis (ENGINE:MAJOR: another major; ENGINE:installed: the newest major this "
        "machine's binaries run, else the deployed one); host binaries or testcontainers; repeatable",
        default=(), cli="--datastore", pytest="--stackprobe-datastore", ini="stackprobe_datastores", verbs=CHECK_VERBS,
        metavar="ADDRESS=ENGINE",
    ),
    Setting(
        "datastore_sql", Kind.PAIRS,
        "SQL an operator runs once against the new database as its master user (the application's roles, grants, "
        "extensions): run by the local server of the PostgreSQL or MySQL datastore ADDRESS names (which a --datastore "
        "value must select) once it is made, as the master user over TCP with its password (TLS where required), "
        "into db_name; a statement RDS's master may not run fails, naming its line; repeatable",
        default=(), cli="--datastore-sql", pytest="--stackprobe-datastore-sql", ini="stackprobe_datastore_sql",
        verbs=CHECK_VERBS, metavar="ADDRESS=FILE", path_values=True,
    ),
    Setting(
        "app_dir", Kind.PATH, "where container commands run (default: the Terraform directory)", cli="--app-dir",
        pytest="--stackprobe-app-dir", ini="stackprobe_app_dir", verbs=CHECK_VERBS, metavar="DIR",
    ),
    Setting(
        "environment", Kind.TEXT,
        "judge the stack as this environment (default auto: from environment tags, then variables and var files; "
        "production rules when nothing says)",
        default="auto", cli="--environment", pytest="--stackprobe-environment", ini="stackprobe_environment",
        verbs=CHECK_VERBS, choices=ENVIRONMENTS,
    ),
    Setting(
        "only_checks", Kind.NAMES,
        "run only these checks (ids or patterns such as 's3.*'; repeatable, or comma-separated)",
        default=(), cli="--check", verbs=VERIFY_VERBS, metavar="ID",
    ),
    Setting(
        "skip_checks", Kind.NAMES,
        "do not run these checks (ids or patterns; repeatable, or comma-separated). Skipping lifecycle.idempotent "
        "skips the second plan; skipping lifecycle.clean-teardown skips the destroy when the emulator is the run's "
        "own embedded moto (it is discarded with everything in it)",
        default=(), cli="--skip-check", verbs=VERIFY_VERBS, metavar="ID",
    ),
    # the emulator and terraform
    Setting(
        "backend", Kind.TEXT,
        "moto (embedded, the default) or localstack (a running one at the endpoint / $AWS_ENDPOINT_URL, a container, "
        "or the open-source runtime started here); on LocalStack, a plan that needs services it does not serve is "
        "kept as its result and applied on the embedded moto, as the report says",
        default="moto", cli="--backend", pytest="--stackprobe-backend", verbs=VERIFY_VERBS | {"up"}, choices=BACKENDS,
    ),
    Setting(
        "endpoint", Kind.TEXT, "a running LocalStack on loopback", cli="--endpoint", pytest="--stackprobe-endpoint",
        verbs=VERIFY_VERBS | {"up", "parity"}, metavar="URL",
    ),
    Setting(
        "terraform", Kind.TEXT, "terraform or tofu binary (default: $STACKPROBE_TERRAFORM_BINARY, then terraform)",
        cli="--terraform", pytest="--stackprobe-terraform", verbs=RUN_VERBS, metavar="BINARY",
    ),
    Setting(
        "provider_mirror", Kind.TEXT,
        "provider filesystem mirror (default: $STACKPROBE_PROVIDER_MIRROR, then discovered)",
        cli="--provider-mirror", pytest="--stackprobe-provider-mirror", verbs=RUN_VERBS, metavar="DIR",
    ),
    Setting(
        "moto_port", Kind.INT, "port for the embedded moto server (default: 0, a free port)", default=0,
        cli="--moto-port", pytest="--stackprobe-moto-port", verbs=RUN_VERBS, metavar="PORT",
    ),
    Setting(
        "timeout", Kind.FLOAT, "timeout for terraform apply and destroy, in seconds (default: 1800)", default=1800.0,
        cli="--timeout", pytest="--stackprobe-timeout", verbs=RUN_VERBS, metavar="SECONDS",
    ),
    Setting(
        "plan_cache", Kind.TEXT,
        "keep pre-apply plans by digest in the user cache, shared with other processes and later runs, and read "
        "one from there when only its JSON is needed (default: on)",
        default="on", cli="--plan-cache", pytest="--stackprobe-plan-cache", ini="stackprobe_plan_cache",
        verbs=RUN_VERBS, choices=("on", "off"),
    ),
    Setting(
        "provider_fallback", Kind.FLAG,
        "when neither a provider's version constraint nor the lock file can be satisfied from the mirror, test with "
        "the newest mirrored version of that provider (in the workspace only; every report says so)",
        default=False, cli="--provider-fallback", pytest="--stackprobe-provider-fallback",
        ini="stackprobe_provider_fallback", verbs=RUN_VERBS,
    ),
    Setting(
        "no_stand_ins", Kind.FLAG,
        "do not create stand-ins for what the configuration names but does not create (certificates, roles, zones, "
        "keys, secrets, AMIs, looked-up VPCs...): such a stack then fails, naming what is missing",
        default=False, cli="--no-stand-ins", pytest="--stackprobe-no-stand-ins", verbs=RUN_VERBS,
    ),
    Setting(
        "stand_ins", Kind.TEXT, "false: no stand-ins (as --no-stand-ins)", default="true", ini="stackprobe_stand_ins",
        choices=("true", "false"),
    ),
    # what becomes of the stack
    Setting(
        "keep_stack", Kind.FLAG, "leave the stack running at the end, in a new live session (see `status` and `down`)",
        default=False, cli="--keep-stack", pytest="--keep-stack", verbs=VERIFY_VERBS,
    ),
    Setting(
        "reuse", Kind.FLAG,
        "attach to the stack's live session (`stackprobe up`), or start one and leave it running; an unchanged "
        "configuration runs no terraform, a changed one an incremental apply",
        default=False, cli="--reuse", pytest="--stackprobe-reuse", ini="stackprobe_reuse", verbs=VERIFY_VERBS,
    ),
    Setting(
        "idle_ttl", Kind.FLOAT,
        "a live session's emulator stops itself after this long without a request (default: 8 hours; 0: never)",
        cli="--ttl", ini="stackprobe_idle_ttl", verbs=VERIFY_VERBS | {"up"}, metavar="SECONDS",
    ),
    # what the CLI prints
    Setting(
        "format", Kind.TEXT, "report format on stdout", default="text", cli="--format", verbs=VERIFY_VERBS,
        choices=REPORT_FORMATS,
    ),
    Setting(
        "outputs", Kind.PATHS,
        "also write the report to FILE; the format follows the suffix (.md, .json, .xml, .sarif); repeatable",
        default=(), cli="--output", verbs=VERIFY_VERBS | {"parity"}, metavar="FILE",
    ),
    Setting("quiet", Kind.FLAG, "no progress on stderr", default=False, cli="--quiet", verbs=RUN_VERBS),
    Setting(
        "fail_on", Kind.TEXT, "lowest severity that fails the run (default: high)", default="high",
        cli="--fail-on", verbs=frozenset({"audit"}),
    ),
    Setting(
        "baseline", Kind.PATH,
        "findings accepted before (a file --write-baseline wrote): only findings not in it fail the run, and the "
        "ones that no longer occur are listed", cli="--baseline", pytest="--stackprobe-baseline",
        ini="stackprobe_baseline", verbs=VERIFY_VERBS, metavar="FILE",
    ),
    Setting(
        "write_baseline", Kind.PATH, "record today's findings (check id and Terraform address) as a baseline in FILE",
        cli="--write-baseline", verbs=frozenset({"audit"}), metavar="FILE",
    ),
    Setting(
        "improvements", Kind.PATH, "also write an IMPROVEMENTS report (Markdown) generated from the findings",
        cli="--improvements", verbs=frozenset({"audit"}), metavar="FILE",
    ),
    # the verbs' own
    Setting(
        "table_format", Kind.TEXT, "table format on stdout", default="text", cli="--format",
        verbs=frozenset({"parity"}), choices=("text", "md", "json"),
    ),
    Setting(
        "force", Kind.FLAG, "forget a session whose emulator is gone (stops it if it still runs)", default=False,
        cli="--force", verbs=frozenset({"down"}),
    ),
    Setting("json", Kind.FLAG, "as JSON", default=False, cli="--json", verbs=frozenset({"status"})),
    Setting(
        "catalogue", Kind.PATH, "mutant catalogue (default: DIR/mutants.yaml)", cli="--catalogue",
        verbs=frozenset({"mutate"}), metavar="FILE",
    ),
    Setting(
        "only_mutants", Kind.NAMES, "run only these mutants", default=(), cli="--only", verbs=frozenset({"mutate"}),
        metavar="ID",
    ),
    Setting(
        "isolated", Kind.FLAG, "one apply per mutant instead of batches (slow; proves batching changes nothing)",
        default=False, cli="--isolated", verbs=frozenset({"mutate"}),
    ),
    Setting(
        "markdown", Kind.FLAG, "as the Markdown committed in docs/backends.md", default=False, cli="--markdown",
        verbs=frozenset({"compat"}),
    ),
    Setting(
        "terraform_dir", Kind.TEXT, "configurations whose services to list", default="terraform",
        cli="--terraform-dir", verbs=frozenset({"compat"}),
    ),
    Setting("port", Kind.INT, "port to listen on (0: a free one)", default=0, cli="--port", verbs=frozenset({"serve"})),
    Setting(
        "host", Kind.TEXT, "loopback address to listen on", default="127.0.0.1", cli="--host",
        verbs=frozenset({"serve"}),
    ),
    Setting(
        "region", Kind.TEXT, "the emulator's region", default=DEFAULT_REGION, cli="--region",
        verbs=frozenset({"serve"}),
    ),
    Setting(
        "ready_file", Kind.PATH, "write the endpoint and token here when ready", cli="--ready-file",
        verbs=frozenset({"serve"}),
    ),
    Setting(
        "serve_idle_ttl", Kind.FLOAT, "exit after this many idle seconds (0: never)", default=0.0, cli="--idle-ttl",
        verbs=frozenset({"serve"}),
    ),
)
# fmt: on

BY_NAME = {setting.name: setting for setting in SETTINGS}


# -- the front-ends ---------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser, verb: str, *, optional_dir: bool = False) -> None:
    """The CLI options of `verb`, generated from SETTINGS (the directory is the positional argument)."""
    for setting in SETTINGS:
        if verb not in setting.verbs:
            continue
        if setting.name == "tf_dir":
            parser.add_argument(
                "tf_dir", type=Path, nargs="?" if optional_dir else None, default=None, help=setting.help
            )
            continue
        assert setting.cli is not None, f"{setting.name} has verbs but no CLI flag"
        options: dict[str, Any] = {"help": setting.help, "dest": setting.name}
        if setting.kind == Kind.FLAG:
            options.update(action="store_true", default=False)
        elif setting.kind in (Kind.PATHS, Kind.PAIRS, Kind.NAMES):
            options.update(action="append", default=[])
            if setting.kind == Kind.PATHS:
                options["type"] = Path
        else:
            # A setting the project's pytest configuration may hold is None when not given, so the
            # configuration's value is not overridden by a default the user never typed.
            shared = setting.ini is not None or setting.pytest is not None
            options["default"] = None if shared else setting.default
            options["type"] = {Kind.INT: int, Kind.FLOAT: float, Kind.PATH: Path}.get(setting.kind, str)
        if setting.metavar:
            options["metavar"] = setting.metavar
        if setting.choices:
            options["choices"] = setting.choices
        parser.add_argument(setting.cli, **options)


def raw_from_namespace(args: argparse.Namespace) -> dict[str, Any]:
    """What the command line gave, by setting name (what was not given is absent)."""
    raw: dict[str, Any] = {}
    for setting in SETTINGS:
        if not hasattr(args, setting.name):
            continue
        value = getattr(args, setting.name)
        if value is None or value == [] or value is False:
            continue
        raw[setting.name] = value
    if getattr(args, "command", None) == "up":
        raw["reuse"] = True
    return raw


class PytestParser(Protocol):
    def getgroup(self, name: str, description: str = "") -> Any: ...

    def addini(self, name: str, help: str, type: Any = None, default: Any = None) -> None: ...


class PytestConfig(Protocol):
    @property
    def rootpath(self) -> Path: ...

    def getoption(self, name: str) -> Any: ...

    def getini(self, name: str) -> Any: ...


def add_pytest_options(parser: PytestParser) -> None:
    """The plugin's options and ini keys, generated from SETTINGS."""
    group = parser.getgroup("stackprobe", "stackprobe: Terraform on an emulated AWS")
    for setting in SETTINGS:
        suffix = f" (ini: {setting.ini})" if setting.ini and setting.pytest else ""
        if setting.pytest is not None:
            options: dict[str, Any] = {"help": setting.help + suffix, "dest": f"stackprobe_{setting.name}"}
            if setting.kind == Kind.FLAG:
                options.update(action="store_true", default=None)
            elif setting.kind in (Kind.PATHS, Kind.PAIRS, Kind.NAMES):
                options.update(action="append", default=None)
            else:
                options["default"] = None
                options["type"] = {Kind.INT: int, Kind.FLOAT: float}.get(setting.kind, str)
            if setting.metavar:
                options["metavar"] = setting.metavar
            if setting.choices:
                options["choices"] = setting.choices
            group.addoption(setting.pytest, **options)
        if setting.ini is not None:
            if setting.kind in (Kind.PATHS, Kind.PAIRS, Kind.NAMES):
                parser.addini(setting.ini, setting.help, type="linelist", default=[])
            elif setting.kind == Kind.FLAG:
                parser.addini(setting.ini, setting.help, type="bool", default=False)
            else:
                parser.addini(setting.ini, setting.help, default="")


def raw_from_pytest(config: PytestConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(from the ini file, from the command line), by setting name; only what was given."""
    from_ini: dict[str, Any] = {}
    from_cli: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.ini is not None:
            value = config.getini(setting.ini)
            if isinstance(value, str):
                value = value.strip()
            if value not in ("", [], False, None):
                from_ini[setting.name] = list(value) if isinstance(value, list) else value
            elif setting.ini_default is not None:
                from_ini[setting.name] = setting.ini_default
        if setting.pytest is not None:
            value = config.getoption(f"stackprobe_{setting.name}")
            if value not in (None, []):
                from_cli[setting.name] = value
    return from_ini, from_cli


# -- normalising ------------------------------------------------------------------------------------
def _pairs_value(value: Any, label: str) -> Pairs:
    if isinstance(value, tuple) and all(isinstance(item, tuple) for item in value):
        return normalise_pairs(value)
    return parse_pairs([str(item) for item in value], label)


def _names_value(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(name.strip() for item in value for name in str(item).split(",") if name.strip())


def resolve_pair_paths(values: Mapping[str, Any], base: Path | None) -> dict[str, Any]:
    """`values` with each relative path of a NAME=PATH setting (`path_values`) made absolute from `base` (the
    directory its source's relative paths are relative to): merged with another source's, each keeps its own."""
    if base is None:
        return dict(values)
    resolved = dict(values)
    for name, value in values.items():
        if not BY_NAME[name].path_values:
            continue
        items = []
        for item in _as_items(value):
            key, sep, path = item.partition("=")
            if sep and path.strip():
                candidate = Path(path.strip()).expanduser()
                path = str(candidate if candidate.is_absolute() else base / candidate)
            items.append(f"{key}{sep}{path}")
        resolved[name] = items
    return resolved


def merge(from_ini: Mapping[str, Any], from_cli: Mapping[str, Any]) -> dict[str, Any]:
    """The ini's values under the command line's: paths lists are replaced, NAME=VALUE lists merged by name."""
    merged = dict(from_ini)
    for name, value in from_cli.items():
        setting = BY_NAME[name]
        if setting.kind == Kind.PAIRS and name in merged:
            merged[name] = [*_as_items(merged[name]), *_as_items(value)]
        else:
            merged[name] = value
    return merged


def _as_items(value: Any) -> list[str]:
    if isinstance(value, tuple) and all(isinstance(item, tuple) for item in value):
        return [f"{k}={v}" for k, v in value]
    return [str(item) for item in value]


@dataclass(frozen=True)
class Origins:
    """Where values came from: relative paths on a command line are the working directory's, the ini's are
    those of the directory of the configuration file that holds it (pytest's rootdir); `pytest` says which
    command line it was (an error names the option the user typed)."""

    cli: Path
    ini: Path | None = None
    pytest: bool = False


@dataclass(frozen=True)
class _Values:
    """The raw values being normalised, read as each setting's type says (defaults filled in)."""

    raw: Mapping[str, Any]
    origins: Origins
    from_ini: frozenset[str]

    def __call__(self, name: str) -> Any:
        return self.raw.get(name, BY_NAME[name].default)

    def path(self, name: str, value: Any) -> Path:
        base = self.origins.ini if name in self.from_ini and self.origins.ini is not None else self.origins.cli
        candidate = Path(value).expanduser()
        return (candidate if candidate.is_absolute() else base / candidate).resolve()

    def label(self, name: str) -> str:
        """How the user spelled the setting whose value is being read."""
        setting = BY_NAME[name]
        spelled = setting.ini if name in self.from_ini else setting.pytest if self.origins.pytest else setting.cli
        return spelled or setting.cli or setting.pytest or setting.ini or name

    def pairs(self, name: str) -> Pairs:
        return _pairs_value(self(name), self.label(name))

    def check_choices(self) -> None:
        for name, given in self.raw.items():
            setting = BY_NAME[name]
            if setting.choices and isinstance(given, str) and given not in setting.choices:
                raise SettingsError(
                    f"{self.label(name)} is {given!r}, which is none of {', '.join(setting.choices)}",
                    f"set it to one of: {', '.join(setting.choices)}.",
                )


def normalise(
    raw: Mapping[str, Any],
    *,
    origins: Origins,
    from_ini: frozenset[str] = frozenset(),
    cache_dir: Path | None = None,
) -> Settings:
    """The frozen Settings for `raw` (by setting name; what is missing takes its default).

    `from_ini` names the settings whose values came from the ini file (their relative paths are the ini's).
    Raises SettingsError naming the setting for a value it cannot use.
    """
    value = _Values(raw, origins, from_ini)
    value.check_choices()
    var_files, reduced = _var_files(value)
    improvements = value("improvements")
    return Settings(
        stack=_stack(value, var_files),
        run=_run(value, cache_dir or default_cache_dir()),
        checks=CheckSettings(
            app_dir=value.path("app_dir", value("app_dir")) if value("app_dir") else None,
            container_commands=value.pairs("containers"),
            datastores=_datastores(value),
            datastore_sql=_datastore_sql(value),
            environment=None if value("environment") == "auto" else str(value("environment")),
            reduced_stack=reduced,
        ),
        report=ReportSettings(
            format=str(value("format")),
            outputs=tuple(value.path("outputs", p) for p in value("outputs")),
            quiet=bool(value("quiet")),
            fail_on=str(value("fail_on")),
            improvements=value.path("improvements", improvements) if improvements else None,
            baseline=value.path("baseline", value("baseline")) if value("baseline") else None,
            write_baseline=value.path("write_baseline", value("write_baseline")) if value("write_baseline") else None,
        ),
        only_checks=_names_value(value("only_checks")),
        skip_checks=_names_value(value("skip_checks")),
    )


# ENGINE[:MAJOR] in a --datastore value (stackprobe.datastores.local reads the same): MAJOR a major version, or
# `installed` (the newest major this machine's binaries run).
_DATASTORE_ENGINE = re.compile(r"(postgres|mysql|redis)(:(\d+(\.\d+)?|installed)?)?")


def _datastores(value: _Values) -> tuple[str, ...]:
    """The --datastore values, each `auto` or ADDRESS=ENGINE[:MAJOR] (stackprobe.datastores reads them)."""
    given = _names_value(value("datastores"))
    for item in given:
        target, sep, engine = item.rpartition("=")
        if item == "auto":
            continue
        if not sep or not target or engine.partition(":")[0] not in ("postgres", "mysql", "redis"):
            raise SettingsError(
                f"{value.label('datastores')} {item!r} is neither `auto` nor ADDRESS=ENGINE (postgres, mysql or redis)",
                "write e.g. `auto` or module.db.aws_db_instance.main=postgres.",
            )
        if not _DATASTORE_ENGINE.fullmatch(engine):
            raise SettingsError(
                f"{value.label('datastores')} {item!r}: {engine.partition(':')[2]!r} is neither a major version "
                "(15, 8.0, 7) nor `installed`",
                f"write ENGINE:MAJOR, e.g. {target}={engine.partition(':')[0]}:15, or "
                f"{target}={engine.partition(':')[0]}:installed for the newest major this machine's binaries run.",
            )
    return tuple(dict.fromkeys(given))


def _datastore_sql(value: _Values) -> tuple[tuple[str, Path], ...]:
    """The --datastore-sql pairs (ADDRESS, FILE resolved); raises SettingsError for a FILE that is not there or
    cannot be read, and for SQL given without any --datastore (no local server would run it)."""
    label = value.label("datastore_sql")
    pairs = value.pairs("datastore_sql")
    if pairs and not _names_value(value("datastores")):
        raise SettingsError(
            f"{label} is given without --datastore (ini stackprobe_datastores), so no local server would run "
            f"{', '.join(file for _, file in pairs)}",
            f"add --datastore ADDRESS=ENGINE for the datastore it names (e.g. --datastore {pairs[0][0]}=postgres), "
            "or --datastore auto.",
        )
    found: list[tuple[str, Path]] = []
    for address, file in pairs:
        if not file.strip():
            raise SettingsError(
                f"{label} {address}= names no file", f"write {label} ADDRESS=FILE, FILE the SQL to run as the master."
            )
        path = value.path("datastore_sql", file.strip())
        problem = ""
        if not path.exists():
            problem = "does not exist"
        elif not path.is_file():
            problem = "is not a file"
        else:
            try:
                with path.open("rb") as handle:
                    handle.read(1)
            except OSError as exc:
                problem = f"cannot be read ({exc.strerror or exc})"
        if problem:
            where = (
                "the configuration file's directory" if "datastore_sql" in value.from_ini else "the working directory"
            )
            raise SettingsError(
                f"{label} for {address}: {path} {problem}",
                f"give the path of a readable SQL file (a relative path is {where}'s).",
            )
        found.append((address, path))
    return tuple(found)


def _var_files(value: _Values) -> tuple[list[Path], str | None]:
    """The var files, and the reduced stack they make when a backend's own replace the configured ones."""
    backend = str(value("backend"))
    var_files = [value.path("var_files", p) for p in value("var_files")]
    if "var_files" in value.raw and "var_files" not in value.from_ini:
        return var_files, None  # given on the command line: they win over stackprobe_backend_var_files
    chosen = [
        value.path("backend_var_files", f) for name, f in _backend_lines(value("backend_var_files")) if name == backend
    ]
    if not chosen:
        return var_files, None
    # What the backend does not serve was left out of the stack, so assert_check skips (not fails) a check that
    # finds nothing of its kind, naming the subset.
    subset = ", ".join(str(p) for p in chosen)
    return chosen, f"the stack deployed for {backend} ({subset}: the subset of the stack that {backend} serves)"


def _stack(value: _Values, var_files: list[Path]) -> StackSpec | None:
    if value("tf_dir") is None:
        return None
    prerequisites = value("prerequisites")
    return StackSpec(
        tf_dir=value.path("tf_dir", value("tf_dir")),
        var_files=tuple(var_files),
        variables=value.pairs("variables"),
        teardown_variables=value.pairs("teardown_variables"),
        prerequisites=StackSpec(tf_dir=value.path("prerequisites", prerequisites)) if prerequisites else None,
        include=tuple(value.path("include", p) for p in value("include")),
    )


def _run(value: _Values, cache: Path) -> RunSettings:
    lifetime = Lifetime.KEEP if value("keep_stack") else Lifetime.REUSE if value("reuse") else Lifetime.EPHEMERAL
    ttl = value("idle_ttl")
    return RunSettings(
        backend=str(value("backend")),
        terraform_binary=value("terraform"),
        provider_mirror=value("provider_mirror"),
        moto_port=int(value("moto_port")),
        endpoint=value("endpoint"),
        apply_timeout=float(value("timeout")),
        lifetime=lifetime,
        cache_dir=cache,
        plan_store=None if value("plan_cache") == "off" else cache / "plans",
        idle_ttl=RunSettings.idle_ttl if ttl in (None, "") else float(ttl),
        provider_fallback=bool(value("provider_fallback")),
        stand_ins=not value("no_stand_ins") and str(value("stand_ins")).lower() != "false",
    )


def _backend_lines(value: Any) -> list[tuple[str, str]]:
    lines = _as_items(value)
    found = []
    for line in lines:
        name, sep, file = line.partition("=")
        if not sep or not file.strip():
            raise SettingsError(
                f"stackprobe_backend_var_files expects BACKEND=PATH lines, got {line!r}",
                "write each line as BACKEND=PATH, e.g. localstack=terraform/environments/localstack-community.tfvars.",
            )
        found.append((name.strip(), file.strip()))
    return found


# Where pytest looks for its configuration in a directory, in its order, and the section that must be there
# (a pytest.ini counts even without one).
PROJECT_FILES = (
    ("pytest.ini", "pytest"),
    (".pytest.ini", "pytest"),
    ("pyproject.toml", "tool.pytest.ini_options"),
    ("tox.ini", "pytest"),
    ("setup.cfg", "tool:pytest"),
)


@dataclass(frozen=True)
class ProjectSettings:
    """The stackprobe keys of the pytest configuration file a project already uses, as pytest would find it."""

    path: Path
    section: str
    values: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.path.name} [{self.section}]"


def find_project_settings(start: Path) -> ProjectSettings | None:
    """The first pytest configuration file from `start` upwards, as pytest picks it (None: there is none)."""
    for directory in [start, *start.parents]:
        for name, section in PROJECT_FILES:
            path = directory / name
            if not path.is_file():
                continue
            if name == "pyproject.toml":
                table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("pytest", {})
                if "ini_options" in table:
                    return ProjectSettings(path, section, dict(table["ini_options"]))
                continue
            parser = configparser.ConfigParser(interpolation=None)
            parser.read(path, encoding="utf-8")
            if parser.has_section(section) or name.endswith("pytest.ini"):
                return ProjectSettings(path, section, dict(parser[section]) if parser.has_section(section) else {})
    return None


def _ini_value(setting: Setting, value: Any) -> Any:
    """A project file's value as pytest's getini would give it for the setting's kind."""
    if setting.kind in (Kind.PATHS, Kind.PAIRS, Kind.NAMES):
        lines = value if isinstance(value, list) else str(value).splitlines()
        return [str(line).strip() for line in lines if str(line).strip()]
    if setting.kind == Kind.FLAG:
        return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes", "on")
    return str(value).strip()


def from_namespace(args: argparse.Namespace, cache_dir: Path | None = None) -> Settings:
    """The CLI's settings: what the command line gave (relative paths from the working directory), over the
    project's pytest configuration when DIR is the stack that configuration names (stackprobe_tf_dir), so
    `stackprobe audit` and `pytest` agree without repeating --var."""
    raw = raw_from_namespace(args)
    project = find_project_settings(Path.cwd())
    from_ini = _project_values(project, raw) if project is not None else {}
    origins = Origins(cli=Path.cwd(), ini=project.path.parent if project is not None else None)
    merged = merge(resolve_pair_paths(from_ini, origins.ini), resolve_pair_paths(raw, origins.cli))
    used = frozenset(name for name in from_ini if name not in raw or BY_NAME[name].kind == Kind.PAIRS)
    return normalise(merged, origins=origins, from_ini=used, cache_dir=cache_dir)


def _project_values(project: ProjectSettings, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The project's stackprobe settings, when the command names the stack they are for (else none)."""
    values = {
        setting.name: _ini_value(setting, project.values[setting.ini])
        for setting in SETTINGS
        if setting.ini is not None and setting.ini in project.values
    }
    configured = (project.path.parent / str(values.get("tf_dir", BY_NAME["tf_dir"].ini_default))).resolve()
    given = raw.get("tf_dir")
    if given is None or (Path.cwd() / given).resolve() != configured:
        return {}
    values.pop("tf_dir", None)
    return {name: value for name, value in values.items() if value not in ("", [], False)}


def from_pytest(config: PytestConfig, cache_dir: Path | None = None) -> Settings:
    """The plugin's settings: the ini file's, under the command line's."""
    from_ini, from_cli = raw_from_pytest(config)
    origins = Origins(cli=Path.cwd(), ini=Path(str(config.rootpath)), pytest=True)
    return normalise(
        merge(resolve_pair_paths(from_ini, origins.ini), resolve_pair_paths(from_cli, origins.cli)),
        origins=origins,
        from_ini=frozenset(name for name in from_ini if name not in from_cli),
        cache_dir=cache_dir,
    )
