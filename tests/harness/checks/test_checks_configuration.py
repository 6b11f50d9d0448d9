"""Configuration-level checks of issue 26's round, on small configurations written to a temporary directory:
create_before_destroy with fixed names, unwired root variables, version constraints, committed keys and OAuth
client secrets. They read files only, so the context's backend is never contacted."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from plan_builders import context, write

from stackprobe.checks.base import Fidelity, Status
from stackprobe.checks.lifecycle_names import create_before_destroy_fixed_name
from stackprobe.checks.providers import required_versions
from stackprobe.checks.source import committed_keys
from stackprobe.checks.wiring import unwired_variables
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

CHECKS = (create_before_destroy_fixed_name, unwired_variables, required_versions, committed_keys)


def test_they_are_configuration_level_checks() -> None:
    assert all(c.fidelity is Fidelity.SOURCE and c.services == () and not c.plan_level for c in CHECKS)


# -- source.create-before-destroy-fixed-name ---------------------------------------------------------------------

LIFECYCLE = """\
resource "aws_alb_target_group" "app" {
  name     = "${var.name}-tg"
  port     = 8080
  protocol = "HTTP"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "app" {
  name_prefix = "app-"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_launch_template" "ecs" {
  image_id = "ami-123"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role" "fixed" {
  name               = "ecs-task"
  assume_role_policy = "{}"
}
"""
MODULE = """\
resource "aws_db_parameter_group" "this" {
  name   = "orders"
  family = "postgres16"
  lifecycle { create_before_destroy = true }
}
"""


def test_a_fixed_unique_name_with_create_before_destroy_fails_at_its_block(tmp_path: Path) -> None:
    write(
        tmp_path, {"main.tf": LIFECYCLE + 'module "db" {\n  source = "./modules/db"\n}\n', "modules/db/main.tf": MODULE}
    )
    result = assert_check(context(source_dir=tmp_path), create_before_destroy_fixed_name, Status.FAIL)
    by = {str(f.address): f for f in result.findings}
    assert sorted(by) == [
        "aws_alb_target_group.app",
        "aws_launch_template.ecs",
        "aws_security_group.app",
        "module.db.aws_db_parameter_group.this",
    ]  # aws_iam_role.fixed has no create_before_destroy
    assert by["aws_alb_target_group.app"].evidence == (
        'main.tf:1: aws_alb_target_group.app has create_before_destroy and name = "${var.name}-tg": its replacement '
        "asks for the same name while the old one holds it, and AWS refuses the duplicate"
    )
    assert by["module.db.aws_db_parameter_group.this"].evidence.startswith(
        'modules/db/main.tf:1: module.db.aws_db_parameter_group.this has create_before_destroy and name = "orders"'
    )
    assert by["aws_security_group.app"].passed and by["aws_launch_template.ecs"].passed


# -- source.unwired-variables ---------------------------------------------------------------------------------------

ROOT = """\
variable "image_tag" {
  description = "The image tag to deploy"
  type        = string
}

variable "region" {
  type = string
  validation {
    condition     = length(var.region) > 0
    error_message = "a region"
  }
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "unused_cidrs" {
  type    = list(string)
  default = []
  validation {
    condition     = length(var.unused_cidrs) < 10
    error_message = "too many"
  }
}

provider "aws" {
  region = var.region
}

locals {
  common = merge(var.tags, { Stack = "shop" })
}

module "app" {
  source = "./modules/app"
  tags   = local.common
}
"""
APP = """\
variable "image_tag" {
  type    = string
  default = "latest"
}

variable "tags" {
  type = map(string)
}
"""


def test_a_root_variable_nothing_reads_fails_and_names_the_module_call_that_wanted_it(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": ROOT, "modules/app/main.tf": APP})
    result = assert_check(context(source_dir=tmp_path), unwired_variables, Status.FAIL)
    by = {str(f.address): f.evidence for f in result.findings}
    assert sorted(by) == ["var.image_tag", "var.unused_cidrs"]  # its own validation does not count as a read
    assert by["var.image_tag"] == (
        'main.tf:1: var.image_tag ("The image tag to deploy") is declared and nothing in the root module reads it; '
        "module.app declares image_tag and is not given it (its default 'latest' is used)"
    )


def test_variables_read_anywhere_pass(tmp_path: Path) -> None:
    text = ROOT.replace("tags   = local.common", 'tags   = local.common\n  image_tag = "${var.image_tag}"')
    write(tmp_path, {"main.tf": text, "outputs.tf": 'output "cidrs" {\n  value = var.unused_cidrs\n}\n'})
    result = assert_check(context(source_dir=tmp_path), unwired_variables, Status.PASS)
    assert result.findings[0].evidence == "all 4 root variables are read"


# -- source.required-versions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "evidence"),
    [
        (
            {"main.tf": 'provider "aws" {}\n'},
            "main.tf: no terraform block: every init takes the newest Terraform and AWS provider",
        ),
        (
            {
                "main.tf": "",
                "versions.tf": '\nterraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n'
                "  }\n}\n",
            },
            "versions.tf:2: the terraform block has no required_version, required_providers names aws without a "
            "version constraint: every init takes the newest Terraform and AWS provider",
        ),
    ],
)
def test_missing_version_constraints_fail_at_the_terraform_block(
    tmp_path: Path, files: dict[str, str], evidence: str
) -> None:
    write(tmp_path, files)
    result = assert_check(context(source_dir=tmp_path), required_versions, Status.FAIL)
    assert result.findings[0].evidence == evidence


def test_pinned_versions_pass(tmp_path: Path) -> None:
    pinned = (
        'terraform {\n  required_version = ">= 1.6"\n  required_providers {\n'
        '    aws = { source = "hashicorp/aws", version = "~> 5.0" }\n  }\n}\n'
    )
    write(tmp_path, {"versions.tf": pinned})
    assert_check(context(source_dir=tmp_path), required_versions, Status.PASS)


# -- source.committed-keys -------------------------------------------------------------------------------------------

KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAnot-a-real-key\n-----END RSA PRIVATE KEY-----\n"
COGNITO = """\
resource "aws_cognito_identity_provider" "google" {
  provider_name = "Google"
  provider_details = {
    client_id     = "1234.apps.googleusercontent.com"
    client_secret = "q7Jx2vLm9PzR4tWc8NbY5kHd"
  }
}

resource "aws_cognito_identity_provider" "github" {
  provider_details = {
    client_secret = var.github_client_secret
  }
}
"""


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        {
            "main.tf": COGNITO,
            "deploy-key.pem": KEY,
            "certs/site.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "app.tfvars": 'client_secret = "s3cret-value-1234"\n',
            "README.md": 'client_secret = "documented-example"\n',
        },
    )


def test_committed_private_keys_and_oauth_secrets_fail_at_their_line(keys: Path) -> None:
    result = assert_check(context(source_dir=keys), committed_keys, Status.FAIL)
    by = {f.resource: f.evidence for f in result.findings}
    assert by == {
        "deploy-key.pem": "deploy-key.pem:1 (not in a git repository: nothing keeps it out of one) holds line 1: a "
        "private key",
        "main.tf": "main.tf:5 (not in a git repository: nothing keeps it out of one) holds line 5: client_secret is a "
        "literal (24 characters)",
    }  # a certificate is public; a var file is source.committed-secrets' to judge; a README is not read


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_key_git_ignores_stays_local(keys: Path) -> None:
    subprocess.run(["git", "init", "-q", str(keys)], check=True)
    (keys / ".gitignore").write_text("*.pem\n")
    result = assert_check(context(source_dir=keys), committed_keys, Status.FAIL)
    assert [f.resource for f in result.findings if f.passed] == ["deploy-key.pem"]
