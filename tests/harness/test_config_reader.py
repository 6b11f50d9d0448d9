"""The configuration reader: blocks, lines and values, wherever HCL's syntax hides them.

The reader is stackprobe's own (no `hcl2` package is imported; see stackprobe.terraform.config for why),
and the workspace copy, the SARIF locator and the source checks all read through it, so these cases pin
the syntax it must see through: strings, interpolations, heredocs, comments, one-line blocks, JSON syntax,
files with a syntax error that terraform will report, and the values the source checks judge.
Rerun: .venv/bin/pytest tests/harness/test_config_reader.py -q -p no:randomly
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.terraform.config import (
    Expression,
    ModuleConfig,
    Template,
    parse_body,
    parse_json,
    parse_native,
    read_module,
    read_tree,
)

pytestmark = pytest.mark.harness


def _module(tmp_path: Path, files: dict[str, str]) -> ModuleConfig:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return read_module(tmp_path)


def test_module_calls_are_found_through_strings_heredocs_and_comments(tmp_path: Path) -> None:
    text = r"""
locals {
  braces  = "} { module \"fake\" { source = \"./fake\" } // not a comment # either"
  nested  = "${jsonencode({ a = "}", b = "${var.x}" })}-${lookup(var.m, "k", "}")}"
  literal = "$${not_an_interpolation} }"
  policy  = <<-EOT
    module "in_heredoc" {
      source = "./heredoc"
    }
    }}}
  EOT
  template = "%{ if var.on }}%{ endif }"
}
# module "hashed" { source = "./hashed" }
// module "slashed" { source = "./slashed" }
/* module "block_comment" {
  source = "./commented"
} */
module "one_line" { source = "./one" }
module "multi" {
  source     = "../shared/multi"
  depends_on = [module.one_line]
  settings = {
    source = "./not-the-source"
  }
}
module "registry" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.0"
}
module "computed" { source = "./${var.name}" }
"""
    module = _module(tmp_path, {"main.tf": text})
    assert module.module_sources == {
        "one_line": "./one",
        "multi": "../shared/multi",
        "registry": "terraform-aws-modules/vpc/aws",
        "computed": None,
    }
    assert module.local_module_sources == ["./one", "../shared/multi"]


def test_provider_blocks_and_aliases_including_renamed_aws(tmp_path: Path) -> None:
    module = _module(
        tmp_path,
        {
            "versions.tf": """
terraform {
  required_version = ">= 1.5"
  required_providers {
    amazon = {
      source  = "registry.terraform.io/hashicorp/aws"
      version = "~> 5.0"
    }
    random = { source = "hashicorp/random", version = ">= 3" }
    legacy = "~> 2.0"
  }
  backend "s3" {
    bucket = "state"
    key    = "x/terraform.tfstate"
  }
}
""",
            "providers.tf": """
provider amazon { region = var.region }
provider "amazon" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags { tags = { Owner = "x" } }
}
provider "random" {}
""",
            "main.tf": 'resource "aws_s3_bucket" "b" {}\ndata "random_id" "r" {}\n',
        },
    )
    assert module.aws_local_names == {"aws", "amazon"}
    assert module.aws_provider_blocks() == [("amazon", None), ("amazon", "us_east_1")]
    assert module.provider_aliases["random"] == [None]
    assert module.has_backend and not module.has_cloud_block
    assert module.provider_requirements["amazon"] == {
        "source": "registry.terraform.io/hashicorp/aws",
        "version": "~> 5.0",
    }
    assert module.provider_requirements["legacy"] == {"version": "~> 2.0"}
    assert module.implied_providers == {"aws", "random"}


def test_a_stray_quote_spoils_only_its_own_line(tmp_path: Path) -> None:
    """A syntax error terraform will report must not hide the module calls that follow it."""
    module = _module(
        tmp_path,
        {
            "main.tf": 'variable "name" {\n  default = "abc\n}\nmodule "net" {\n  source = "./modules/net"\n}\n'
            'provider "aws" {\n  alias = "west"\n}\n',
        },
    )
    assert module.local_module_sources == ["./modules/net"]
    assert module.aws_provider_blocks() == [("aws", "west")]


def test_an_unclosed_block_does_not_raise(tmp_path: Path) -> None:
    module = _module(tmp_path, {"main.tf": 'module "a" { source = "./a" }\nresource "aws_vpc" "v" {\n  tags = {\n'})
    assert module.local_module_sources == ["./a"]


def test_json_syntax_is_read_too(tmp_path: Path) -> None:
    module = _module(
        tmp_path,
        {
            "main.tf.json": """{
  "terraform": {"backend": {"s3": {}}, "required_providers": {"aws": {"source": "hashicorp/aws"}}},
  "provider": {"aws": [{"region": "eu-west-1"}, {"alias": "west", "region": "us-west-2"}]},
  "module": {"net": {"source": "./net"}, "tpl": {"source": "./${var.x}"}},
  "resource": {"aws_vpc": {"v": {"cidr_block": "10.0.0.0/16"}}}
}""",
        },
    )
    assert module.aws_provider_blocks() == [("aws", None), ("aws", "west")]
    assert module.module_sources == {"net": "./net", "tpl": None}
    assert module.has_backend
    assert module.implied_providers == {"aws"}


def test_override_files_are_not_read(tmp_path: Path) -> None:
    module = _module(
        tmp_path,
        {
            "main.tf": 'module "a" { source = "./a" }\n',
            "override.tf": 'module "b" { source = "./b" }\n',
            "x_override.tf": 'provider "aws" { alias = "o" }\n',
        },
    )
    assert module.local_module_sources == ["./a"]
    assert module.provider_aliases == {}


def test_the_tree_follows_local_calls_transitively(tmp_path: Path) -> None:
    (tmp_path / "envs" / "prod").mkdir(parents=True)
    (tmp_path / "modules" / "app").mkdir(parents=True)
    (tmp_path / "modules" / "net").mkdir(parents=True)
    (tmp_path / "envs" / "prod" / "main.tf").write_text('module "app" { source = "../../modules/app" }\n')
    (tmp_path / "modules" / "app" / "main.tf").write_text('module "net" {\n  source = "../net"\n}\n')
    (tmp_path / "modules" / "net" / "main.tf").write_text('resource "aws_vpc" "v" {}\n')
    tree = read_tree(tmp_path / "envs" / "prod")
    assert sorted(str(p.relative_to(tmp_path.resolve())) for p in tree) == ["envs/prod", "modules/app", "modules/net"]


def test_literals_are_values_and_other_expressions_keep_their_text() -> None:
    [block] = parse_native(
        'module "m" {\n  source = "./m"\n  count = 2\n  name = "a-${var.b}"\n  list = ["x",\n  "y"]\n'
        '  obj = { k = "v", n = { deep = "d" }, r = var.r }\n  merged = merge({ a = "b" }, {})\n}\n'
    )
    assert block.attributes == {
        "source": "./m",
        "count": 2,
        "name": Template('"a-${var.b}"'),
        "list": ["x", "y"],
        "obj": {"k": "v", "n": {"deep": "d"}, "r": Expression("var.r")},
        "merged": Expression('merge({ a = "b" }, {})'),
    }


def test_every_kind_of_value_the_source_checks_judge() -> None:
    text = r"""
numbers  = [0, 42, -3, 1.5, 2e3]
flags    = { on = true, "off" = false, none = null }
escaped  = "tab\there \"quoted\" \u00e9 $${literal} %%{literal}"
whole    = "${var.key}"
template = "AKIA${var.suffix}"
for_list = [for x in var.xs : upper(x)]
for_map  = { for k, v in var.m : k => v }
computed = { (var.key) = 1 }
indexed  = ["a", "b"][0]
ternary  = var.on ? "a" : "b"
nested   = [{ a = [1, { b = "c" }] }, var.x]
plain    = <<EOT
first ${"$"}{not} line
EOT
"""
    attributes = parse_body(text).attributes
    assert attributes["numbers"] == [0, 42, -3, 1.5, 2000.0]
    assert attributes["flags"] == {"on": True, "off": False, "none": None}
    assert attributes["escaped"] == 'tab\there "quoted" \u00e9 ${literal} %{literal}'
    assert attributes["whole"] == Expression("var.key")  # as Terraform reads it: the expression itself
    assert attributes["template"] == Template('"AKIA${var.suffix}"')
    assert attributes["for_list"] == Expression("[for x in var.xs : upper(x)]")
    assert attributes["for_map"] == Expression("{ for k, v in var.m : k => v }")
    assert attributes["computed"] == Expression("{ (var.key) = 1 }")
    assert attributes["indexed"] == Expression('["a", "b"][0]')
    assert attributes["ternary"] == Expression('var.on ? "a" : "b"')
    assert attributes["nested"] == [{"a": [1, {"b": "c"}]}, Expression("var.x")]
    assert isinstance(attributes["plain"], Template)


def test_heredocs_are_literal_strings_unless_they_interpolate() -> None:
    text = (
        "plain = <<EOT\n  kept indentation\n  # not a comment\n}\nEOT\n"
        "indented = <<-EOT\n    shared\n      deeper $${literal}\n    EOT\n"
        "templated = <<-EOT\n    name: ${var.name}\n    EOT\n"
        "listed = [\n  <<-EOT\n    in a list\n  EOT\n]\n"
        'after = "read"\n'
    )
    attributes = parse_body(text).attributes
    assert attributes["plain"] == "  kept indentation\n  # not a comment\n}\n"
    assert attributes["indented"] == "shared\n  deeper ${literal}\n"
    assert attributes["templated"] == Template("<<-EOT\n    name: ${var.name}\n    EOT")
    assert attributes["listed"] == ["in a list\n"]
    assert attributes["after"] == "read"


def test_blocks_know_their_line_and_comments_are_skipped() -> None:
    text = (
        '# resource "x" "commented" {\n'
        '/* resource "x" "block_commented" {\n*/\n'
        'resource "aws_s3_bucket" "b" { # trailing\n'
        '  bucket = "name" // also trailing\n'
        "  lifecycle_rule {\n    enabled = true\n  }\n"
        "}\n"
        "provider aws {}\n"
    )
    bucket, provider = parse_native(text)
    assert (bucket.type, bucket.labels, bucket.line) == ("resource", ("aws_s3_bucket", "b"), 4)
    assert bucket.attributes == {"bucket": "name"}
    [rule] = bucket.nested("lifecycle_rule")
    assert (rule.line, rule.attributes) == (6, {"enabled": True})
    assert (provider.labels, provider.line) == (("aws",), 10)


def test_json_syntax_keeps_its_values_and_has_no_lines() -> None:
    [block] = parse_json('{"module": {"m": {"source": "./m", "count": 2, "name": "a-${var.b}", "list": [true]}}}')
    assert block.line is None
    assert block.attributes == {"source": "./m", "count": 2, "name": Template("a-${var.b}"), "list": [True]}


def test_a_var_file_is_a_body_of_attributes() -> None:
    body = parse_body('region = "eu-west-1"\ndb = {\n  password = "x"\n  port     = 5432\n}\nzones = ["a",\n"b"]\n')
    assert body.attributes == {"region": "eu-west-1", "db": {"password": "x", "port": 5432}, "zones": ["a", "b"]}
    assert body.blocks == ()
