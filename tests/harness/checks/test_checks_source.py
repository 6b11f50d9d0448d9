"""source.*: configuration-level checks on small configurations written to a temporary directory.

They read files only (no emulator call), so the context's backend is a record that is never contacted.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import Check, CheckContext, CheckResult, Fidelity, Finding, Severity, Status
from stackprobe.checks.source import (
    committed_secrets,
    hardcoded_account_ids,
    provider_credentials,
    state_locking,
    terraform_dir,
)
from stackprobe.terraform.plan import Plan
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness
# Never contacted: these checks read files.
BACKEND = AwsBackend(name="moto", endpoint="http://127.0.0.1:9", region="eu-west-1", account_id="123456789012")
EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run(check: Check, root: Path | None = None, **context: Any) -> CheckResult:
    result = run_check(check, CheckContext(backend=BACKEND, source_dir=root, **context))
    assert not result.error, result.error
    return result


def at(result: CheckResult, where: str) -> Finding:
    [found] = [f for f in result.findings if where in (f.address, f.resource)]
    return found


def test_source_checks_say_so() -> None:
    for check in (provider_credentials, committed_secrets, state_locking, hardcoded_account_ids):
        assert check.fidelity is Fidelity.SOURCE
        assert check.services == ()


# -- source.provider-credentials ----------------------------------------------------------------------------


PROVIDERS = f"""
provider "aws" {{
  region     = "eu-west-1"
  access_key = "{EXAMPLE_KEY}"
  secret_key = "{EXAMPLE_SECRET}"
}}

provider "aws" {{
  alias      = "dr"
  region     = "us-west-2"
  access_key = var.access_key
  secret_key = var.secret_key
}}

provider "aws" {{
  alias  = "audit"
  region = "us-east-1"
  assume_role {{
    role_arn = "arn:aws:iam::111122223333:role/audit"
  }}
}}

provider "aws" {{
  alias      = "legacy"
  region     = "eu-west-2"
  access_key = var.legacy_key
  secret_key = var.secret_key
}}

variable "access_key" {{
  type = string
}}

variable "secret_key" {{
  type      = string
  sensitive = true
}}

variable "legacy_key" {{
  default = "{EXAMPLE_KEY}"
}}

module "child" {{
  source = "./modules/child"
}}
"""
CHILD = """
provider "aws" {
  region = "eu-west-1"
  token  = "IQoJb3JpZ2luX2VjE"
}
"""


@pytest.fixture
def credentials(tmp_path: Path) -> CheckResult:
    write(tmp_path, {"providers.tf": PROVIDERS, "modules/child/main.tf": CHILD})
    return run(provider_credentials, tmp_path)


def test_literal_credentials_in_a_provider_block_are_critical(credentials: CheckResult) -> None:
    literal = at(credentials, "provider.aws")
    assert not literal.passed and literal.severity is Severity.CRITICAL
    assert literal.resource == "providers.tf:2"
    assert (
        literal.evidence
        == "providers.tf:2: access_key = a literal (20 characters); secret_key = a literal (40 characters)"
    )
    assert EXAMPLE_SECRET not in literal.evidence and EXAMPLE_KEY not in literal.evidence


def test_credentials_through_variables_are_high_or_critical_with_a_literal_default(credentials: CheckResult) -> None:
    variables = at(credentials, "provider.aws.dr")
    assert not variables.passed and variables.severity is Severity.HIGH
    assert "access_key = var.access_key (its value is given at plan time: a var file, a CI variable, -var)" in (
        variables.evidence
    )
    defaulted = at(credentials, "provider.aws.legacy")
    assert not defaulted.passed and defaulted.severity is Severity.CRITICAL
    assert "access_key = var.legacy_key, whose default is a literal (20 characters)" in defaulted.evidence


def test_a_provider_without_credentials_passes_and_modules_are_read(credentials: CheckResult) -> None:
    audit = at(credentials, "provider.aws.audit")
    assert audit.passed
    assert (
        audit.evidence == "providers.tf:15: no access_key, secret_key or token: credentials come from the environment"
    )
    child = at(credentials, "module.child.provider.aws")
    assert not child.passed and child.evidence == "modules/child/main.tf:2: token = a literal (17 characters)"


def test_the_workspace_copy_is_read_without_stackprobes_own_files(tmp_path: Path) -> None:
    """Terraform runs a copy (mutants are planted there); stackprobe's own override is not the user's."""
    source = write(tmp_path / "stack", {"main.tf": 'provider "aws" {\n  region = "eu-west-1"\n}\n'})
    copy = write(
        tmp_path / "work" / "src",
        {
            "main.tf": 'provider "aws" {\n  region = "eu-west-1"\n}\n',
            "stackprobe_override.tf": 'provider "aws" {\n  access_key = "test"\n  secret_key = "test"\n}\n',
        },
    )
    assert terraform_dir(CheckContext(backend=BACKEND, source_dir=source, work_dir=copy)) == copy
    assert run(provider_credentials, source, work_dir=copy).status is Status.PASS
    write(copy, {"zz_stackprobe_mutant_keys_override.tf": 'provider "aws" {\n  access_key = var.ci_key\n}\n'})
    planted = run(provider_credentials, source, work_dir=copy)
    assert planted.status is Status.FAIL
    assert at(planted, "provider.aws").evidence == (
        "zz_stackprobe_mutant_keys_override.tf:1: access_key = var.ci_key "
        "(its value is given at plan time: a var file, a CI variable, -var)"
    )


def test_how_each_way_of_writing_a_credential_is_judged(tmp_path: Path) -> None:
    """The reader's values, as the check reads them: a string that is one interpolation is that expression,
    text around an interpolation is in the file, and a provider header in a heredoc or comment is no block."""
    files = {
        "main.tf": (
            'locals {\n  doc = <<-EOT\n    provider "aws" {\n    EOT\n}\n'
            '# provider "aws" {\n'
            'provider "aws" {\n  alias      = "quoted"\n  access_key = "${var.key}"\n}\n'
            'provider "aws" {\n  alias      = "partly"\n  access_key = "AKIA${var.suffix}"\n}\n'
            'provider "aws" {\n  alias      = "computed"\n  access_key = lookup(\n    var.keys,\n    "ci")\n}\n'
            'provider "aws" {\n  alias      = "unset"\n  access_key = null\n  secret_key = ""\n}\n'
            'variable "key" {\n  default = <<-EOT\n    literal\n    EOT\n}\n'
        )
    }
    result = run(provider_credentials, write(tmp_path, files))
    quoted = at(result, "provider.aws.quoted")
    assert quoted.resource == "main.tf:7"
    assert quoted.evidence == "main.tf:7: access_key = var.key, whose default is a literal (8 characters)"
    assert at(result, "provider.aws.partly").evidence == "main.tf:11: access_key = a literal (17 characters)"
    computed = at(result, "provider.aws.computed")
    assert computed.severity is Severity.HIGH
    assert computed.evidence == 'main.tf:15: access_key = the expression lookup(var.keys, "ci")'
    assert at(result, "provider.aws.unset").passed


def test_a_file_with_a_syntax_error_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    """Terraform reports the stray quote; the provider block after it is still the user's and still judged."""
    text = f'variable "name" {{\n  default = "abc\n}}\nprovider "aws" {{\n  access_key = "{EXAMPLE_KEY}"\n}}\n'
    result = run(provider_credentials, write(tmp_path, {"main.tf": text}))
    assert at(result, "provider.aws").evidence == "main.tf:4: access_key = a literal (20 characters)"


def test_no_configuration_is_not_applicable() -> None:
    assert run(provider_credentials, None).status is Status.NOT_APPLICABLE


# -- source.committed-secrets ---------------------------------------------------------------------------------


def saved_plan(path: Path, variables_tf: str) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("tfplan", b"\x0a\x0bdb_password")
        archive.writestr("tfstate", "{}")
        archive.writestr("tfconfig/variables.tf", variables_tf)


@pytest.fixture
def committed(tmp_path: Path) -> tuple[Path, CheckResult]:
    write(
        tmp_path,
        {
            "main.tf": "",
            "terraform.tfvars": f'region = "eu-west-1"\ndb_password = "Orders2023!prod"\naws_key = "{EXAMPLE_KEY}"\n',
            "environments/dev.tfvars": 'region = "eu-west-1"\ninstance_count = 2\ndb_password = "CHANGE_ME"\n',
            "prod.tfvars.json": '{"api": {"client_secret": "s3cr3t-value"}}',
            "plan.json": (
                '{"format_version": "1.2", "variables": {"db_password": {"value": "Orders2023!prod"}}, '
                '"planned_values": {"root_module": {"resources": [{"address": "aws_db_instance.main", '
                '"values": {"password": "Orders2023!prod", "username": "app"}}]}}}'
            ),
            "README.md": "db_password = hunter2 (just kidding)",
        },
    )
    saved_plan(tmp_path / "tfplan", 'variable "db_password" {}\nvariable "region" {}\n')
    saved_plan(tmp_path / "old.tfplan", 'variable "region" {}\n')
    return tmp_path, assert_check(CheckContext(backend=BACKEND, source_dir=tmp_path), committed_secrets, Status.FAIL)


def test_secret_values_in_var_files_fail_without_showing_them(committed: tuple[Path, CheckResult]) -> None:
    _, result = committed
    tfvars = at(result, "terraform.tfvars")
    assert not tfvars.passed and tfvars.severity is None and tfvars.address is None
    assert tfvars.evidence == (
        "terraform.tfvars:2 (a var file, not in a git repository: nothing keeps it out of one): "
        "db_password is a literal value (15 characters); aws_key holds an AWS access key id"
    )
    nested = at(result, "prod.tfvars.json")
    assert not nested.passed and "api.client_secret is a literal value (12 characters)" in nested.evidence
    assert "Orders2023" not in tfvars.evidence + nested.evidence


def test_placeholders_and_plain_settings_pass(committed: tuple[Path, CheckResult]) -> None:
    _, result = committed
    dev = at(result, "environments/dev.tfvars")
    assert dev.passed and dev.evidence == "environments/dev.tfvars (a var file): no secret-looking value"
    assert "README.md" not in {f.resource for f in result.findings}


def test_saved_and_json_plans_hold_secrets(committed: tuple[Path, CheckResult]) -> None:
    _, result = committed
    binary = at(result, "tfplan")
    assert not binary.passed and binary.severity is None
    assert "a saved plan" in binary.evidence
    assert "every variable's value and the prior state in clear text, including db_password" in binary.evidence
    quiet = at(result, "old.tfplan")
    assert not quiet.passed and quiet.severity is Severity.HIGH
    shown = at(result, "plan.json")
    assert not shown.passed
    assert shown.evidence == (
        "plan.json (a JSON plan, not in a git repository: nothing keeps it out of one): "
        "aws_db_instance.main.password; variable db_password is a literal value (15 characters)"
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_files_git_ignores_stay_local_and_pass(committed: tuple[Path, CheckResult]) -> None:
    root, _ = committed
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("terraform.tfvars\n")
    result = run(committed_secrets, root)
    ignored = at(result, "terraform.tfvars")
    assert ignored.passed
    assert (
        ignored.evidence == "terraform.tfvars (a var file, 2 secret value(s)) is ignored by git: stays on this machine"
    )
    tracked = at(result, "prod.tfvars.json")
    assert not tracked.passed and "(a var file, not ignored by git)" in tracked.evidence


def test_var_files_given_outside_the_configuration_are_read(tmp_path: Path) -> None:
    root = write(tmp_path / "stack", {"main.tf": ""})
    outside = write(tmp_path / "env", {"prod.tfvars": 'api_token = "abcdef123456"\n'}) / "prod.tfvars"
    result = run(committed_secrets, root, var_files=(outside,))
    assert not at(result, str(outside.resolve())).passed


def test_a_configuration_without_var_or_plan_files_is_not_applicable(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'variable "x" {}\n'})
    assert run(committed_secrets, tmp_path).status is Status.NOT_APPLICABLE


# -- source.state-locking -----------------------------------------------------------------------------------


def s3_backend(settings: str) -> dict[str, str]:
    return {"backend.tf": f'terraform {{\n  backend "s3" {{\n    {settings}\n  }}\n}}\n'}


def test_an_s3_backend_without_a_lock_fails(tmp_path: Path) -> None:
    write(tmp_path, s3_backend('bucket = "state"\n    key = "app.tfstate"\n    region = "eu-west-1"'))
    [finding] = assert_check(CheckContext(backend=BACKEND, source_dir=tmp_path), state_locking, Status.FAIL).findings
    assert (finding.evidence, finding.resource) == (
        'backend.tf:2: backend "s3" has neither dynamodb_table nor use_lockfile = true (and no *.tfbackend file '
        "here sets one): concurrent applies can overwrite each other's state",
        "backend.tf",
    )


@pytest.mark.parametrize(
    ("backend", "extra", "evidence"),
    [
        ("use_lockfile = true", {}, 'backend.tf:2: backend "s3" locks: use_lockfile = true'),
        ('dynamodb_table = "locks"', {}, 'backend.tf:2: backend "s3" locks: dynamodb_table = locks'),
        (
            "encrypt = true",
            {"backend/prod.s3.tfbackend": 'bucket = "state"\ndynamodb_table = "tf-locks"\n'},
            'backend.tf:2: backend "s3" locks: dynamodb_table = tf-locks in backend/prod.s3.tfbackend (passed with '
            "-backend-config)",
        ),
    ],
)
def test_s3_backend_locking(tmp_path: Path, backend: str, extra: dict[str, str], evidence: str) -> None:
    write(tmp_path, {**s3_backend(backend), **extra})
    [finding] = run(state_locking, tmp_path).findings
    assert (finding.passed, finding.evidence, finding.resource) == (True, evidence, "backend.tf")


def test_other_backends_are_not_judged(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'terraform {\n  backend "local" {}\n}\n'})
    assert run(state_locking, tmp_path).status is Status.NOT_APPLICABLE


# -- source.hardcoded-account-ids ---------------------------------------------------------------------------


def plan_with(root: dict[str, Any], values: dict[str, Any] | None = None) -> Plan:
    return Plan({"configuration": {"root_module": root}, "variables": values or {}})


def test_account_ids_in_defaults_fail_per_variable() -> None:
    root = {
        "variables": {
            "alarm_topic_arn": {"default": "arn:aws:sns:us-east-1:210987654321:ops-alerts"},
            "account_id": {"default": "210987654321"},
            "image": {"default": "210987654321.dkr.ecr.eu-west-1.amazonaws.com/app:1"},
            "policy_arn": {"default": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
            "elb_account": {"default": "156460612806"},
            "region": {"default": "eu-west-1"},
            "certificate_arn": {},
        },
        "module_calls": {
            "dns": {"module": {"variables": {"zone_roles": {"default": ["arn:aws:iam::333344445555:role/dns"]}}}}
        },
    }
    result = run(hardcoded_account_ids, None, plan=plan_with(root, {"account_id": {"value": "123456789012"}}))
    failed = {f.address: f.evidence for f in result.failures}
    assert set(failed) == {"var.alarm_topic_arn", "var.account_id", "var.image", "module.dns.var.zone_roles"}
    assert failed["var.alarm_topic_arn"] == (
        "var.alarm_topic_arn defaults to arn:aws:sns:us-east-1:210987654321:ops-alerts, naming account 210987654321"
    )
    assert failed["var.account_id"].endswith("(overridden at plan time here)")
    assert failed["module.dns.var.zone_roles"] == (
        'module.dns.var.zone_roles defaults to ["arn:aws:iam::333344445555:role/dns"], naming account 333344445555'
    )


def test_defaults_without_account_ids_pass_once() -> None:
    result = run(hardcoded_account_ids, None, plan=plan_with({"variables": {"region": {"default": "eu-west-1"}}}))
    [finding] = result.findings
    assert finding.passed and finding.evidence == "none of the 1 variable defaults names an account id"


def test_account_ids_need_a_plan() -> None:
    assert run(hardcoded_account_ids, None).status is Status.SKIPPED


def test_other_configurations_below_the_root_are_not_read(tmp_path: Path) -> None:
    """A sub-directory with .tf files that the root does not call is another configuration (legacy/ beside
    modules/): its var files are its own."""
    write(
        tmp_path,
        {
            "main.tf": 'module "db" {\n  source = "./modules/db"\n}\n',
            "modules/db/main.tf": "",
            "modules/db/defaults.tfvars": 'db_password = "from-the-module"\n',
            "legacy/app/main.tf": "",
            "legacy/app/terraform.tfvars": 'db_password = "someone-elses"\n',
        },
    )
    result = run(committed_secrets, tmp_path)
    assert {f.resource for f in result.findings} == {"modules/db/defaults.tfvars"}
