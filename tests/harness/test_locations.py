"""Terraform addresses resolve to the file and first line of the block that declares them.

The crafted configuration below puts decoys where a naive scan would find them (comments, heredocs, strings
with braces, a nested block named `resource`) before the real blocks; each real block header carries a
trailing `# @name` marker, which is how the tests know its line without counting by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stackprobe.terraform.locations import (
    Address,
    SourceIndex,
    SourceLocation,
    file_declarations,
    locate,
    parse_address,
)

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "terraform" / "legacy"
IMPROVEMENTS = REPO / "docs" / "improvements"

ROOT_MAIN = """\
# resource "aws_s3_bucket" "commented" {
/*
resource "aws_s3_bucket" "block_commented" {
*/
locals {
  script = <<-EOT
    resource "aws_s3_bucket" "in_heredoc" {
    }
    EOT
  name   = "${var.env == "prod" ? "}" : "{"}-{"
  tags   = { Name = "}", Other = "{" }
  price  = "$${"
}

resource "aws_lakeformation_permissions" "grant" { # @grant
  resource "aws_s3_bucket" "nested" {
  }
}

resource "aws_s3_bucket" "data" { # @data
  for_each = toset(["logs", "a.b"])
  bucket   = "b-${each.key}"
}

resource "aws_instance" "web" { # @web
  count     = 2
  user_data = <<EOF
resource "aws_instance" "decoy" {
EOF
}

data "aws_iam_policy_document" "assume" { # @assume
  statement {}
}

module "network" { # @network
  providers = {
    source = "./not-this"
  }
  source = "./modules/network"
}

module "database" { # @database
  source  = "terraform-aws-modules/rds/aws"
  version = "6.0.0"
}

module "shared" { # @shared
  for_each = toset(["a"])
  source   = "../shared"
}

resource aws_sqs_queue unquoted { # @unquoted
}
"""
OVERRIDE = """\
resource "aws_s3_bucket" "data" {
  force_destroy = true
}
"""
NETWORK = """\
resource "aws_vpc" "this" { # @vpc
  cidr_block = "10.0.0.0/16"
}

module "subnets" { # @subnets
  source = "./subnets"
}
"""
SUBNETS = """\
variable "zones" {}

resource "aws_subnet" "private" { # @private
  for_each = var.zones
}
"""
SHARED = """\
resource "aws_sns_topic" "alerts" { # @alerts
}
"""
JSON_CONFIG = '{"resource": {"aws_sqs_queue": {"jobs": {"name": "jobs"}}}}\n'


def marker_line(path: Path, marker: str) -> int:
    lines = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if line.endswith(f"# @{marker}")]
    assert len(lines) == 1, f"{path}: marker @{marker} found {len(lines)} times"
    return lines[0]


@pytest.fixture
def configuration(tmp_path: Path) -> Path:
    """A root module with a local module (which calls another), a registry module call, a module outside
    the root, a JSON file and an override file that sorts before main.tf; returns the root directory."""
    root = tmp_path / "stack"
    files = {
        root / "main.tf": ROOT_MAIN,
        root / "a_override.tf": OVERRIDE,
        root / "queues.tf.json": JSON_CONFIG,
        root / "modules" / "network" / "main.tf": NETWORK,
        root / "modules" / "network" / "subnets" / "main.tf": SUBNETS,
        tmp_path / "shared" / "main.tf": SHARED,
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("address", "path", "marker"),
    [
        ('aws_s3_bucket.data["logs"]', "main.tf", "data"),
        ('aws_s3_bucket.data["a.b[0]"]', "main.tf", "data"),
        ("aws_instance.web[1]", "main.tf", "web"),
        ("aws_lakeformation_permissions.grant", "main.tf", "grant"),
        ("aws_sqs_queue.unquoted", "main.tf", "unquoted"),
        ("data.aws_iam_policy_document.assume", "main.tf", "assume"),
        ("module.network", "main.tf", "network"),
        ("module.network.aws_vpc.this", "modules/network/main.tf", "vpc"),
        (
            'module.network.module.subnets.aws_subnet.private["eu-west-1a"]',
            "modules/network/subnets/main.tf",
            "private",
        ),
        ('module.shared["a"].aws_sns_topic.alerts', "../shared/main.tf", "alerts"),
    ],
)
def test_address_is_located_at_its_block(configuration: Path, address: str, path: str, marker: str) -> None:
    location = locate(configuration, address)
    assert location.note is None, location.note
    assert location.path == path
    assert location.line == marker_line(configuration / path, marker)


def test_resource_in_a_registry_module_is_located_at_the_module_call(configuration: Path) -> None:
    location = locate(configuration, "module.database.aws_db_instance.this[0]")
    assert (location.path, location.line) == ("main.tf", marker_line(configuration / "main.tf", "database"))
    assert location.note is not None and "terraform-aws-modules/rds/aws" in location.note


def test_block_in_json_syntax_is_located_at_its_file_with_a_note(configuration: Path) -> None:
    location = locate(configuration, "aws_sqs_queue.jobs")
    assert (location.path, location.line) == ("queues.tf.json", 1)
    assert location.note is not None and "JSON" in location.note


@pytest.mark.parametrize(
    "decoy",
    [
        "aws_s3_bucket.commented",
        "aws_s3_bucket.block_commented",
        "aws_s3_bucket.in_heredoc",
        "aws_instance.decoy",
        "aws_s3_bucket.nested",
    ],
)
def test_text_that_is_not_a_top_level_block_is_not_taken_for_one(configuration: Path, decoy: str) -> None:
    location = locate(configuration, decoy)
    assert (location.path, location.line) == ("main.tf", 1)
    assert location.note is not None and "not declared in the root module" in location.note


def test_module_source_is_read_from_the_module_body_not_a_nested_block(configuration: Path) -> None:
    (call,) = [d for d in SourceIndex(configuration).declarations(configuration) if d.labels == ("network",)]
    assert call.source == "./modules/network"


@pytest.mark.parametrize(
    ("address", "path", "marker", "why"),
    [
        (None, "main.tf", None, "names no Terraform address"),
        ("arn:aws:kms:us-east-1:123456789012:key/1234", "main.tf", None, "unexpected"),
        ("aws_s3_bucket.missing", "main.tf", None, 'resource "aws_s3_bucket" "missing" is not declared'),
        ("module.nowhere.aws_vpc.this", "main.tf", None, "`module.nowhere` is not declared in the root module"),
        ("module.network.aws_vpc.missing", "main.tf", "network", "is not declared in modules/network"),
        ("module.network.module.subnets.data.aws_subnet.gone", "modules/network/main.tf", "subnets", "data source"),
    ],
)
def test_what_cannot_be_located_points_at_the_nearest_enclosing_place_with_a_note(
    configuration: Path, address: str | None, path: str, marker: str | None, why: str
) -> None:
    location = locate(configuration, address)
    expected_line = marker_line(configuration / path, marker) if marker else 1
    assert (location.path, location.line) == (path, expected_line)
    assert location.note is not None and why in location.note, location.note


def test_root_without_main_tf_falls_back_to_its_first_file(tmp_path: Path) -> None:
    (tmp_path / "b.tf").write_text("")
    (tmp_path / "a.tf").write_text("")
    assert locate(tmp_path, "aws_vpc.x").path == "a.tf"


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        ("aws_vpc.main", Address((), "resource", "aws_vpc", "main")),
        ('aws_s3_bucket.data["logs"]', Address((), "resource", "aws_s3_bucket", "data")),
        ('aws_s3_bucket.data["a.b\\"c]"]', Address((), "resource", "aws_s3_bucket", "data")),
        ("data.aws_caller_identity.current", Address((), "data", "aws_caller_identity", "current")),
        (
            'module.a["x"].module.b[0].data.aws_iam_policy_document.p',
            Address(("a", "b"), "data", "aws_iam_policy_document", "p"),
        ),
        ("module.database", Address(("database",), None, None, None)),
    ],
)
def test_address_parses(address: str, parsed: Address) -> None:
    assert parse_address(address) == parsed


@pytest.mark.parametrize(
    "address", ["aws_vpc", "aws_vpc.main.extra", "module", "aws_vpc.main[", 'aws_vpc.main["x]', "aws_vpc..main", "a.b."]
)
def test_malformed_address_is_refused_with_the_address_named(address: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(address))):
        parse_address(address)


def test_one_line_blocks_keep_the_depth_right(tmp_path: Path) -> None:
    (tmp_path / "x.tf").write_text(
        'resource "a" "one" {}\nresource "a" "two" { count = 0 }\nresource "a" "three" {\n}\n'
    )
    assert [(d.labels[1], d.line) for d in file_declarations(tmp_path / "x.tf")] == [
        ("one", 1),
        ("two", 2),
        ("three", 3),
    ]


def _legacy_addresses() -> list[tuple[str, str]]:
    """Every Terraform address the committed improvement reports list a failing finding on (those reports
    are regenerated from real audits by tests/integration/test_legacy_audits.py)."""
    found = []
    for report in sorted(IMPROVEMENTS.glob("*.md")):
        for address in sorted(set(re.findall(r"^- `([^`]+)`:", report.read_text(), re.MULTILINE))):
            try:
                parse_address(address)
            except ValueError:
                continue  # a finding on a resource without an address (masked ARN or id)
            found.append((report.stem, address))
    return found


@pytest.mark.parametrize(("stack", "address"), _legacy_addresses(), ids=lambda v: str(v))
def test_every_legacy_finding_address_is_located_at_its_block_header(stack: str, address: str) -> None:
    parsed = parse_address(address)
    location = locate(LEGACY / stack, address)
    assert location.note is None, location.note
    line = (LEGACY / stack / location.path).read_text().splitlines()[location.line - 1]
    if parsed.mode in ("variable", "output"):
        header = rf'\s*{parsed.mode}\s+"{re.escape(parsed.name or "")}"\s*\{{'
    else:
        header = rf'\s*{parsed.mode}\s+"{re.escape(parsed.type or "")}"\s+"{re.escape(parsed.name or "")}"\s*\{{'
    assert re.match(header, line), f"{stack}: {address} located at {location.path}:{location.line}: {line!r}"


def test_variables_outputs_and_providers_are_located(tmp_path: Path) -> None:
    """Configuration-level findings name `var.X`, `output.X` and `provider.P[.ALIAS]`, in modules too."""
    (tmp_path / "modules" / "child").mkdir(parents=True)
    (tmp_path / "main.tf").write_text(
        'provider "aws" {\n  region = "eu-west-1"\n}\n\nprovider "aws" {\n  alias  = "us"\n  region = "us-east-1"\n}\n'
        'module "child" {\n  source = "./modules/child"\n}\n'
    )
    (tmp_path / "variables.tf").write_text('variable "image" {\n  default = "nginx:latest"\n}\n')
    (tmp_path / "outputs.tf").write_text('output "url" {\n  value = "x"\n}\n')
    (tmp_path / "modules" / "child" / "main.tf").write_text('provider "aws" {\n  access_key = "x"\n}\n')
    index = SourceIndex(tmp_path)
    assert index.locate("var.image") == SourceLocation("variables.tf", 1)
    assert index.locate("output.url") == SourceLocation("outputs.tf", 1)
    assert index.locate("provider.aws") == SourceLocation("main.tf", 1)
    assert index.locate("provider.aws.us") == SourceLocation("main.tf", 5)
    assert index.locate("module.child.provider.aws") == SourceLocation("modules/child/main.tf", 1)
    missing = index.locate("provider.aws.eu")
    assert missing.note is not None and 'alias "eu" is not declared' in missing.note


def test_a_provider_in_json_syntax_is_located_at_its_file(tmp_path: Path) -> None:
    """The JSON reader is the workspace's, which reads provider blocks (and their aliases) too."""
    (tmp_path / "main.tf").write_text('resource "aws_vpc" "v" {}\n')
    (tmp_path / "providers.tf.json").write_text('{"provider": {"aws": [{"region": "x"}, {"alias": "us"}]}}')
    location = locate(tmp_path, "provider.aws.us")
    assert (location.path, location.line) == ("providers.tf.json", 1)
    assert location.note == "providers.tf.json is JSON syntax: its blocks are located at line 1"
