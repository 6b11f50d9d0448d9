"""Configuration-level checks: what the files say, whether or not anything deploys (fidelity `source`).

Some defects are in the repository, not in the account: credentials written into provider blocks, secret
values in committed var files or saved plans, an S3 state backend that cannot lock, account ids baked
into variable defaults. These checks read the configuration's files, never the process environment
(the guard has replaced every credential there with the emulator's dummy ones).

Which files: the `.tf` files as Terraform ran them, that is the workspace copy without stackprobe's own
wiring files (`stackprobe_*.tf`), so that a planted mutant is read too; the user's own directory when
there is no workspace. Var files, saved plans and state files are read from the user's directory
(`source_dir`), where they would be committed; a file git ignores stays on one machine and passes.
Findings name files relative to the root module (and a line where one can be found); a provider block is
addressed `provider.aws` or `provider.aws.ALIAS`, a variable `var.NAME` (`module.M.var.NAME` in a module).
A finding about a file names the file as its resource and leads its evidence with `FILE:LINE` when the
line is known (`terraform.tfvars:3 (a var file, ...)`, `backend.tf:2: backend "s3" ...`): the SARIF report
locates it there.
Files are read with stackprobe.terraform.config, the reader the workspace copy and the SARIF locator use:
a file with a syntax error is read as far as it goes (Terraform reports the error itself).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.checks.s3 import ELB_LOG_ACCOUNTS
from stackprobe.checks.secrets import literal_secret, looks_like_secret_name
from stackprobe.terraform.config import (
    AWS_SOURCE,
    Block,
    Expression,
    Template,
    Value,
    parse_body,
    parse_native,
    read_blocks,
)

# The workspace's own files (provider and backend overrides pointing at the emulator): not the user's.
GENERATED_PREFIX = "stackprobe_"
SKIPPED_DIRECTORIES = {".terraform", ".git", ".tftest-cache", "node_modules", ".venv", "__pycache__"}
CREDENTIAL_ARGUMENTS = ("access_key", "secret_key", "token")
# A saved plan is a zip archive holding these members (Terraform's planfile format).
PLAN_MEMBER = "tfplan"
MAX_SCANNED_BYTES = 50 * 1024 * 1024
ACCESS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
PLACEHOLDER = re.compile(
    r"^(<[^>]*>|change[-_ ]?me|replace[-_ ]?me|todo|tbd|x+|\*+|dummy|example|placeholder)$",
    re.IGNORECASE,
)
# An account id where an ARN, an ECR registry host or a bare account id puts one.
ACCOUNT_IN_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")
ACCOUNT_IN_REGISTRY = re.compile(r"\b(\d{12})\.dkr\.ecr\.")
BARE_ACCOUNT = re.compile(r"^\d{12}$")
# Accounts AWS owns and publishes (ELB access-log delivery): naming one is using AWS's constant.
AWS_OWNED_ACCOUNTS = frozenset(ELB_LOG_ACCOUNTS.values())
REFERENCE = "terraform/backend.tf, terraform/providers.tf"


# -- reading the files --------------------------------------------------------------------------------


def _labelled(blocks: Iterable[Block], block_type: str) -> Iterator[tuple[str, Block]]:
    """(first label, block) of every `block_type "label" { ... }` block."""
    for block in blocks:
        if block.type == block_type and block.labels:
            yield block.labels[0], block


def _attributes_of(path: Path) -> dict[str, Value]:
    """The attributes of a file that holds only attributes: a var file (`.tfvars`) or a `.tfbackend`."""
    return parse_body(path.read_text(encoding="utf-8", errors="replace")).attributes


@dataclass(frozen=True)
class TerraformFile:
    path: Path
    name: str  # relative to the root module
    blocks: Sequence[Block]


@dataclass
class Module:
    """One directory of .tf files, as called from the root (`address` "" for the root, else "module.a.")."""

    address: str
    directory: Path
    files: list[TerraformFile] = field(default_factory=list)

    def variables(self) -> dict[str, Block]:
        return {name: block for f in self.files for name, block in _labelled(f.blocks, "variable")}


def terraform_dir(ctx: CheckContext) -> Path | None:
    """The root module as Terraform ran it: the workspace copy (mutants included), else the user's directory."""
    return ctx.work_dir if ctx.work_dir is not None else ctx.source_dir


def _module_files(directory: Path, root: Path) -> list[TerraformFile]:
    files = []
    for path in sorted(directory.glob("*.tf")):
        if not path.name.startswith(GENERATED_PREFIX):
            name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
            files.append(TerraformFile(path, name, read_blocks(path)))
    return files


def configuration_modules(ctx: CheckContext) -> list[Module]:
    """The root module and every local module it calls (each directory once, at its first address)."""
    root = terraform_dir(ctx)
    if root is None or not root.is_dir():
        return []
    return modules_of(root)


def modules_of(root: Path) -> list[Module]:
    modules: list[Module] = []
    seen: set[Path] = set()
    pending = [("", root.resolve())]
    while pending:
        address, directory = pending.pop(0)
        if directory in seen or not directory.is_dir():
            continue
        seen.add(directory)
        module = Module(address, directory, _module_files(directory, root.resolve()))
        modules.append(module)
        for f in module.files:
            for name, call in _labelled(f.blocks, "module"):
                source = call.attributes.get("source")
                if isinstance(source, str) and source.startswith(("./", "../")):
                    pending.append((f"{address}module.{name}.", (directory / source).resolve()))
    return modules


def _where(f: TerraformFile, line: int | None) -> str:
    return f"{f.name}:{line}" if line else f.name


def _terraform_settings(f: TerraformFile, block_type: str) -> Iterator[Block]:
    """The `block_type` blocks (`required_providers`, `backend`) inside the file's `terraform` blocks."""
    for terraform in f.blocks:
        if terraform.type == "terraform":
            yield from terraform.nested(block_type)


# -- provider credentials ------------------------------------------------------------------------------


def _aws_local_names(modules: list[Module]) -> set[str]:
    names = {"aws"}
    for module in modules:
        for f in module.files:
            for required in _terraform_settings(f, "required_providers"):
                for local, spec in required.attributes.items():
                    source = spec.get("source") if isinstance(spec, dict) else None
                    if isinstance(source, str) and AWS_SOURCE in source.lower():
                        names.add(local)
    return names


_VARIABLE_REFERENCE = re.compile(r"var\.([A-Za-z_][A-Za-z0-9_-]*)")
_AFTER_OPENING = re.compile(r"([(\[{]) ")
_BEFORE_CLOSING = re.compile(r" ([)\]}])")


def _one_line(text: str) -> str:
    """An expression written across lines, as one line of evidence: `lookup(var.keys, "ci")`."""
    return _BEFORE_CLOSING.sub(r"\1", _AFTER_OPENING.sub(r"\1", " ".join(text.split())))


def _credential_source(value: Value, variables: Mapping[str, Block]) -> tuple[Severity, str] | None:
    """How a provider credential argument gets its value, with the severity of writing it that way."""
    if value in (None, "", "null", Expression("null")):
        return None
    if isinstance(value, Template) and value.text.startswith('"'):
        # Text around interpolations (`"AKIA${var.suffix}"`) is in the file: judged as a literal, as written.
        value = value.text[1:-1]
    if isinstance(value, Expression):
        reference = _VARIABLE_REFERENCE.fullmatch(value.text)
        if reference is None:
            return Severity.HIGH, f"the expression {_one_line(value.text)[:60]}"
        name = reference.group(1)
        variable = variables.get(name)
        default = variable.attributes.get("default") if variable is not None else None
        if isinstance(default, str) and default:
            return Severity.CRITICAL, f"var.{name}, whose default is a literal ({len(default)} characters)"
        return Severity.HIGH, f"var.{name} (its value is given at plan time: a var file, a CI variable, -var)"
    if not isinstance(value, str):
        return Severity.CRITICAL, "a literal"
    return Severity.CRITICAL, f"a literal ({len(value)} characters)"


@dataclass
class ProviderBlock:
    """One provider configuration, with what its override files merged into it (as Terraform merges them)."""

    name: str
    alias: str | None
    arguments: dict[str, Value]
    where: str


def provider_blocks(module: Module, names: set[str]) -> list[ProviderBlock]:
    """The module's AWS provider configurations; an `*_override.tf` block merges into the one it overrides,
    and the place named is the override's when it sets a credential."""
    blocks: dict[tuple[str, str | None], ProviderBlock] = {}
    # Terraform reads the ordinary files first, then the override files, each in name order.
    ordered = sorted(module.files, key=lambda f: (f.path.name.endswith("override.tf"), f.path.name))
    for f in ordered:
        for name, provider in _labelled(f.blocks, "provider"):
            if name not in names:
                continue
            alias = provider.attributes.get("alias")
            key = (name, alias if isinstance(alias, str) else None)
            where = _where(f, provider.line)
            merged = blocks.get(key)
            if merged is not None and f.path.name.endswith("override.tf"):
                merged.arguments.update(provider.attributes)
                if any(argument in provider.attributes for argument in CREDENTIAL_ARGUMENTS):
                    merged.where = where
            else:
                blocks[key] = ProviderBlock(*key, dict(provider.attributes), where)
    return list(blocks.values())


@check(
    "source.provider-credentials",
    "No AWS credentials are passed to the provider through the configuration",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    fidelity=Fidelity.SOURCE,
    services=(),
    why="access_key/secret_key in a provider block mean long-lived keys: written into the repository, or "
    "passed as variables into var files, CI settings, saved plans and shell history, where they outlive "
    "every rotation. The provider finds credentials itself (an IAM role, SSO, a profile, OIDC in CI).",
    fix="Remove access_key, secret_key and token from the provider blocks and the variables that feed them; "
    "let the provider read credentials from its environment (a role for CI through OIDC, aws sso login "
    "locally), and use assume_role for another account. Rotate any key that was ever committed.",
    reference=REFERENCE,
)
def provider_credentials(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    modules = configuration_modules(ctx)
    aws_names = _aws_local_names(modules)
    for module in modules:
        variables = module.variables()
        for block in provider_blocks(module, aws_names):
            address = f"{module.address}provider.{block.name}" + (f".{block.alias}" if block.alias else "")
            found = [
                (argument, source)
                for argument in CREDENTIAL_ARGUMENTS
                if (source := _credential_source(block.arguments.get(argument), variables)) is not None
            ]
            if not found:
                evidence = f"{block.where}: no access_key, secret_key or token: credentials come from the environment"
                yield Finding(check_.id, True, block.where, evidence, address)
                continue
            severity = max(source[0] for _, source in found)
            evidence = f"{block.where}: " + "; ".join(f"{argument} = {source[1]}" for argument, source in found)
            yield Finding(check_.id, False, block.where, evidence, address, severity=severity)


# -- committed secret values ---------------------------------------------------------------------------


def _user_files(root: Path) -> Iterator[Path]:
    """Every file under `root` a commit could carry: not Terraform's or tools' caches, and not another
    configuration's (a sub-directory with .tf files that the root does not call as a module)."""
    modules = {module.directory for module in modules_of(root)}
    pending = [root]
    while pending:
        directory = pending.pop()
        for entry in sorted(directory.iterdir()):
            if entry.is_dir():
                other_root = any(entry.glob("*.tf")) and entry.resolve() not in modules
                if entry.name not in SKIPPED_DIRECTORIES and not other_root:
                    pending.append(entry)
            elif entry.is_file():
                yield entry


def _flatten(value: Any, name: str = "") -> Iterator[tuple[str, Any]]:
    """(name, value) of every leaf; a map's keys name its leaves (`db.password`)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _flatten(item, name)
    else:
        yield name, value


def _secret_assignments(assignments: Iterator[tuple[str, Any]]) -> list[tuple[str, str]]:
    """(name, why it is a secret value) of each secret assignment (never the value itself)."""
    found = []
    for name, value in assignments:
        # Only a literal string is a value in the file; an expression (never valid in a var file) is not.
        if not isinstance(value, str) or not value or PLACEHOLDER.match(value):
            continue
        leaf = name.rsplit(".", 1)[-1]
        reason = literal_secret(leaf, value)
        if reason is not None:
            found.append((name, reason.replace(leaf, name, 1)))
        elif ACCESS_KEY_ID.search(value):
            found.append((name, f"{name} holds an AWS access key id"))
    return found


def _secret_values(assignments: Iterator[tuple[str, Any]]) -> list[str]:
    """Why each assignment is a secret value (never the value itself)."""
    return [reason for _, reason in _secret_assignments(assignments)]


def _var_file_secrets(path: Path) -> tuple[list[str], int | None] | None:
    """The secret values of a var file (why each is one) and the line of the first, or None if unreadable."""
    if not path.name.endswith(".json"):
        found = _secret_assignments(_flatten(_attributes_of(path)))
    else:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        found = _secret_assignments(_flatten(document))
    line = _line_of_key(path, found[0][0].split(".", 1)[0]) if found else None
    return [reason for _, reason in found], line


def _line_of_key(path: Path, key: str) -> int | None:
    """The first line of a var file that assigns `key` (`key =` in HCL, `"key":` in JSON)."""
    if path.name.endswith(".json"):
        pattern = re.compile(rf'"{re.escape(key)}"\s*:')
    else:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if pattern.search(line):
            return number
    return None


def _resource_secrets(resources: list[Mapping[str, Any]], values_key: str) -> list[str]:
    """Secret-named attributes with a value, in planned values or state resources."""
    found = []
    for resource in resources:
        instances = resource.get("instances") if values_key == "attributes" else [resource]
        for instance in instances or []:
            for name, value in _flatten(instance.get(values_key) or {}):
                if isinstance(value, str) and value and looks_like_secret_name(name.rsplit(".", 1)[-1]):
                    address = resource.get("address") or f"{resource.get('type')}.{resource.get('name')}"
                    found.append(f"{address}.{name}")
    return found


def _plan_modules(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield module
    for child in module.get("child_modules") or []:
        yield from _plan_modules(child)


def _json_plan_or_state_secrets(path: Path) -> tuple[str, list[str]] | None:
    """(what the file is, its secret values) for a JSON plan (`terraform show -json`) or state file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, Mapping):
        return None
    if "format_version" in document and any(k in document for k in ("planned_values", "resource_changes", "variables")):
        variables = {name: (spec or {}).get("value") for name, spec in (document.get("variables") or {}).items()}
        found = [f"variable {reason}" for reason in _secret_values(iter(variables.items()))]
        # planned_values holds its root_module directly; prior_state is a state document with `values`.
        roots = [
            (document.get("planned_values") or {}).get("root_module"),
            ((document.get("prior_state") or {}).get("values") or {}).get("root_module"),
        ]
        for root in roots:
            for module in _plan_modules(root or {}):
                found += _resource_secrets(list(module.get("resources") or []), "values")
        return "a JSON plan", sorted(set(found))
    if "terraform_version" in document and isinstance(document.get("resources"), list):
        return "a state file", sorted(set(_resource_secrets(document["resources"], "attributes")))
    return None


def _binary_plan(path: Path) -> list[str] | None:
    """The secret-named variables a saved plan's embedded configuration declares, or None if not a plan."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if PLAN_MEMBER not in names:
                return None
            declared = []
            for member in names:
                if member.startswith("tfconfig/") and member.endswith(".tf"):
                    blocks = parse_native(archive.read(member).decode("utf-8", errors="replace"))
                    declared += [n for n, _ in _labelled(blocks, "variable") if looks_like_secret_name(n)]
            return sorted(set(declared))
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def _ignored_by_git(path: Path) -> bool | None:
    """True when git ignores `path`, False when it would be committed, None outside a repository."""
    git = shutil.which("git")
    if git is None:
        return None
    result = subprocess.run(
        [git, "-C", str(path.parent), "check-ignore", "-q", path.name], capture_output=True, check=False
    )
    return {0: True, 1: False}.get(result.returncode)


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


@check(
    "source.committed-secrets",
    "No secret value sits in a var file, saved plan or state file next to the configuration",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    fidelity=Fidelity.SOURCE,
    services=(),
    why="A var file or a saved plan in the repository puts the value in every clone, fork and CI log, "
    "forever (deleting the file leaves it in history). A saved plan stores every variable's value and the "
    "prior state in clear text, sensitive ones included; so does a state file.",
    fix="Take the values out of the files (Secrets Manager or SSM read at run time, manage_master_user_password "
    "for databases, TF_VAR_* from the CI secret store), add *.tfvars with secrets, saved plans (tfplan, "
    "*.tfplan, plan JSON) and *.tfstate to .gitignore, and rotate every value that was committed.",
    reference=".gitignore (*.tfstate, *.tfplan)",
)
def committed_secrets(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    if ctx.source_dir is None or not ctx.source_dir.is_dir():
        return
    root = ctx.source_dir.resolve()
    candidates = list(_user_files(root)) + [p.resolve() for p in ctx.var_files if p.is_file()]
    for path in dict.fromkeys(candidates):
        if path.stat().st_size > MAX_SCANNED_BYTES:
            continue
        name = path.name
        line: int | None = None
        if name.endswith((".tfvars", ".tfvars.json")):
            read, what = _var_file_secrets(path), "a var file"
            secrets, line = read if read is not None else (None, None)
        elif name.endswith((".json", ".tfstate", ".tfstate.backup")):
            found = _json_plan_or_state_secrets(path)
            if found is None:
                continue
            what, secrets = found
        elif name.endswith((".tf", ".md", ".py", ".txt", ".yaml", ".yml", ".hcl", ".sh")):
            continue
        elif (declared := _binary_plan(path)) is not None:
            what = "a saved plan"
            named = f", including {', '.join(declared)}" if declared else ""
            secrets = [f"it holds every variable's value and the prior state in clear text{named}"]
        else:
            continue
        if secrets is None:
            continue
        relative = _relative(path, root)
        if not secrets:
            yield Finding(check_.id, True, relative, f"{relative} ({what}): no secret-looking value", None)
            continue
        ignored = _ignored_by_git(path)
        if ignored:
            evidence = f"{relative} ({what}, {len(secrets)} secret value(s)) is ignored by git: stays on this machine"
            yield Finding(check_.id, True, relative, evidence, None)
            continue
        state = "not ignored by git" if ignored is False else "not in a git repository: nothing keeps it out of one"
        # A saved plan whose configuration names no secret-like variable may still hold state secrets.
        severity = Severity.HIGH if what == "a saved plan" and "including" not in secrets[0] else None
        # The first secret's line leads the evidence (`terraform.tfvars:3 (...)`): where a reader, and SARIF, look.
        at = f"{relative}:{line}" if line else relative
        evidence = f"{at} ({what}, {state}): " + "; ".join(secrets[:8]) + (" ..." if len(secrets) > 8 else "")
        yield Finding(check_.id, False, relative, evidence, None, severity=severity)


# -- committed private keys and OAuth client secrets --------------------------------------------------------

PRIVATE_KEY = re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----")
# OAuth client secrets by their published formats (Google's GOCSPX-, GitHub's tokens and app secrets).
OAUTH_TOKEN = re.compile(r"\bGOCSPX-[A-Za-z0-9_-]{20,}|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{40,}")
# `client_secret = "..."` (or `"client_secret": "..."`) with a literal value, in a .tf, .hcl or .json file.
CLIENT_SECRET = re.compile(
    r"[\"']?\b(?P<name>[A-Za-z0-9_]*client_secret|oauth_secret|app_secret)[\"']?\s*[=:]\s*"
    r'"(?P<value>[^"$]{8,})"',
    re.IGNORECASE,
)
KEY_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".ppk")
KEY_NAMES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
TEXT_SUFFIXES = (".tf", ".tfvars", ".hcl", ".json", ".yaml", ".yml", ".env", ".sh", ".tpl", ".txt", ".cfg", ".ini")
MAX_KEY_FILE_BYTES = 1024 * 1024


def _key_material(path: Path) -> list[tuple[int, str]]:
    """(line, what) of each private key block and OAuth client secret in one file (never the value)."""
    if path.stat().st_size > MAX_KEY_FILE_BYTES:
        return []
    name = path.name.lower()
    keyish = name.endswith(KEY_SUFFIXES) or name in KEY_NAMES
    if not keyish and not name.endswith(TEXT_SUFFIXES):
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return [(1, "a binary key store")] if name.endswith((".p12", ".pfx")) else []
    found: list[tuple[int, str]] = []
    var_file = name.endswith((".tfvars", ".tfvars.json"))
    for number, line in enumerate(text.splitlines(), start=1):
        if PRIVATE_KEY.search(line):
            found.append((number, "a private key"))
        elif token := OAUTH_TOKEN.search(line):
            found.append((number, f"an OAuth token or client secret ({token.group(0)[:7]}...)"))
        elif var_file:
            continue  # a literal assigned in a var file is source.committed-secrets' to report
        elif (secret := CLIENT_SECRET.search(line)) and not PLACEHOLDER.match(secret.group("value")):
            found.append((number, f"{secret.group('name')} is a literal ({len(secret.group('value'))} characters)"))
    return found


@check(
    "source.committed-keys",
    "No private key or OAuth client secret is committed with the configuration",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    fidelity=Fidelity.SOURCE,
    services=(),
    why="A private key (an SSH key pair's .pem, a TLS key) or an OAuth client secret in the repository is in "
    "every clone, fork and CI log, and stays in the history after the file is deleted: whoever reads it can log "
    "in to the instances, impersonate the site or the OAuth application.",
    fix="Delete the file and rewrite it out of the history, rotate the key or secret, keep it in Secrets Manager "
    "or SSM (read at run time, or passed as a sensitive TF_VAR_* from the CI secret store), and add *.pem, "
    "*.key and the like to .gitignore; for EC2 access prefer SSM Session Manager to key pairs.",
    reference=".gitignore (*.pem, *.key)",
)
def committed_keys(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    if ctx.source_dir is None or not ctx.source_dir.is_dir():
        return
    root = ctx.source_dir.resolve()
    for path in _user_files(root):
        found = _key_material(path)
        if not found:
            continue
        relative = _relative(path, root)
        ignored = _ignored_by_git(path)
        line, _ = found[0]
        what = "; ".join(f"line {number}: {kind}" for number, kind in found[:5]) + (" ..." if len(found) > 5 else "")
        if ignored:
            evidence = f"{relative}:{line} holds {what}, and is ignored by git: stays on this machine"
            yield Finding(check_.id, True, relative, evidence, None)
            continue
        state = "not ignored by git" if ignored is False else "not in a git repository: nothing keeps it out of one"
        yield Finding(check_.id, False, relative, f"{relative}:{line} ({state}) holds {what}", None)


# -- state locking -------------------------------------------------------------------------------------


def _locks(settings: Mapping[str, Value]) -> str | None:
    table = settings.get("dynamodb_table")
    if isinstance(table, str) and table and table != "null":
        return f"dynamodb_table = {table}"
    lockfile = settings.get("use_lockfile")
    if lockfile is True or (isinstance(lockfile, str) and lockfile.lower() == "true"):
        return "use_lockfile = true"
    return None


@check(
    "source.state-locking",
    "An S3 state backend locks the state",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    fidelity=Fidelity.SOURCE,
    services=(),
    why="Without a lock two applies (two engineers, or CI and a laptop) read the same state and both write "
    "it back: resources are created twice, orphaned or destroyed, and the state no longer matches the "
    "account.",
    fix='Set use_lockfile = true in the backend "s3" block (Terraform 1.10+), or dynamodb_table = a table '
    'with a string hash key "LockID" (older versions).',
    reference="terraform/backend.tf",
)
def state_locking(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    modules = configuration_modules(ctx)
    if not modules:
        return
    root = modules[0]
    for f in root.files:
        for kind, backend in _labelled(_terraform_settings(f, "backend"), "backend"):
            if kind != "s3":
                continue
            where = _where(f, backend.line)
            lock = _locks(backend.attributes)
            if lock is None:
                lock = _backend_config_lock(ctx.source_dir or root.directory)
            if lock is not None:
                yield Finding(check_.id, True, f.name, f'{where}: backend "s3" locks: {lock}', None)
            else:
                evidence = (
                    f'{where}: backend "s3" has neither dynamodb_table nor use_lockfile = true (and no '
                    "*.tfbackend file here sets one): concurrent applies can overwrite each other's state"
                )
                yield Finding(check_.id, False, f.name, evidence, None)


def _backend_config_lock(directory: Path) -> str | None:
    """A partial backend's lock setting in a `-backend-config` file kept next to the configuration."""
    for path in sorted(directory.rglob("*.tfbackend")):
        if any(part in SKIPPED_DIRECTORIES for part in path.parts):
            continue
        lock = _locks(_attributes_of(path))
        if lock is not None:
            return f"{lock} in {_relative(path, directory.resolve())} (passed with -backend-config)"
    return None


# -- hard-coded account ids ----------------------------------------------------------------------------


def _accounts(value: Any) -> set[str]:
    found: set[str] = set()
    for _, leaf in _flatten(value):
        if isinstance(leaf, str):
            found |= set(ACCOUNT_IN_ARN.findall(leaf)) | set(ACCOUNT_IN_REGISTRY.findall(leaf))
            if BARE_ACCOUNT.match(leaf.strip()):
                found.add(leaf.strip())
    return found - AWS_OWNED_ACCOUNTS


def _configured_modules(module: Mapping[str, Any], address: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield address, module
    for name, call in (module.get("module_calls") or {}).items():
        yield from _configured_modules(call.get("module") or {}, f"{address}module.{name}.")


@check(
    "source.hardcoded-account-ids",
    "No variable default names an AWS account id",
    severity=Severity.MEDIUM,
    category=Category.BEST_PRACTICE,
    fidelity=Fidelity.SOURCE,
    services=(),
    why="A default holding an account id, or an ARN in one account (a certificate, a topic, a role), ties the "
    "stack to the author's account: applied anywhere else it fails part-way or, worse, points production at "
    "another account's resources; and it publishes the account id with the code.",
    fix="Drop the default and pass the value per environment (var files), or derive it in the configuration "
    "(data.aws_caller_identity, data.aws_acm_certificate, the resource's own ARN attribute).",
    reference="terraform/variables.tf",
    plan_level=True,
)
def hardcoded_account_ids(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    values = ctx.plan.raw.get("variables") or {}
    read, failed = 0, False
    for address, module in _configured_modules(ctx.plan.configuration().get("root_module") or {}):
        for name, spec in sorted((module.get("variables") or {}).items()):
            read += 1
            if "default" not in spec:
                continue
            accounts = _accounts(spec["default"])
            if not accounts:
                continue
            shown = json.dumps(spec["default"]) if not isinstance(spec["default"], str) else spec["default"]
            overridden = (
                " (overridden at plan time here)"
                if not address and (values.get(name) or {}).get("value", spec["default"]) != spec["default"]
                else ""
            )
            evidence = (
                f"{address}var.{name} defaults to {shown[:160]}, naming account "
                f"{', '.join(sorted(accounts))}{overridden}"
            )
            yield Finding(check_.id, False, f"{address}var.{name}", evidence, f"{address}var.{name}")
            failed = True
    if read and not failed:
        yield Finding(check_.id, True, "variables", f"none of the {read} variable defaults names an account id", None)
