"""The configuration reader: module calls, provider blocks and backends, wherever HCL's syntax hides them.

The reader is stackprobe's own (no `hcl2` package is imported; see stackprobe.terraform.config for why),
so these cases pin the syntax it must see through: strings, interpolations, heredocs, comments, one-line
blocks, JSON syntax, and files with a syntax error that terraform will report.
Rerun: .venv/bin/pytest tests/harness/test_config_reader.py -q -p no:randomly
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.terraform.config import ModuleConfig, parse_native, read_module, read_tree

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


def test_attributes_keep_literal_values_only() -> None:
    [block] = parse_native(
        'module "m" {\n  source = "./m"\n  count = 2\n  name = "a-${var.b}"\n  list = ["x",\n  "y"]\n'
        '  obj = { k = "v", n = { deep = "d" }, r = var.r }\n  merged = merge({ a = "b" }, {})\n}\n'
    )
    assert block.attributes == {
        "source": "./m",
        "count": None,
        "name": None,
        "list": None,
        "obj": {"k": "v", "n": {"deep": "d"}, "r": None},
        "merged": None,
    }
