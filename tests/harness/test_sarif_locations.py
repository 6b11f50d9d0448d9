"""SARIF for configuration-level findings: at the file and line they name (a var file holding a secret, the
backend block, a provider block, a variable declaration), with URIs relative to the repository root (the git
top level) when the configuration is in a repository, so that code scanning annotates them without a
checkout_path setting.

The findings come from the real source checks run on a configuration written to a temporary git repository;
no terraform and no emulator run here."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jsonschema
import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext
from stackprobe.checks.providers import required_versions
from stackprobe.checks.source import committed_keys, committed_secrets, provider_credentials, state_locking
from stackprobe.checks.wiring import unwired_variables
from stackprobe.report.model import RunReport
from stackprobe.report.sarif import REPO_BASE_ID, ROOT_BASE_ID, to_sarif_log, with_absolute_uris

pytestmark = [
    pytest.mark.harness,
    pytest.mark.skipif(shutil.which("git") is None, reason="the repository root is git's top level"),
]

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
BACKEND = AwsBackend("offline (no AWS call is made)", "http://127.0.0.1:9", "eu-west-1", "123456789012")
CHECKS = (committed_secrets, state_locking, provider_credentials, unwired_variables, required_versions, committed_keys)
FILES = {
    "main.tf": 'variable "region" {}\n\nvariable "image_tag" {\n  type = string\n}\n\nprovider "aws" {\n'
    '  region     = var.region\n  access_key = "AKIAIOSFODNN7EXAMPLE"\n}\n',
    "backend.tf": 'terraform {\n  backend "s3" {\n    bucket = "state"\n    key    = "shop.tfstate"\n  }\n}\n',
    "env/secret.tfvars": '# production\nregion = "eu-west-1"\ndb_password = "Orders2023!prod"\n',
    "keys/deploy.pem": "\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n",
}


def configuration(root: Path) -> Path:
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def report_of(root: Path, **context: Any) -> RunReport:
    results = [run_check(check, CheckContext(backend=BACKEND, source_dir=root, **context)) for check in CHECKS]
    return RunReport(title="audit", stack=root.name, backend="moto", results=results, source_dir=root)


def located(log: dict[str, Any]) -> dict[str, tuple[str, str | None, int, str | None]]:
    """Rule id -> (uri, uriBaseId, start line, location note) of each result (one per rule here)."""
    found = {}
    for result in log["runs"][0]["results"]:
        location = result["locations"][0]
        artifact = location["physicalLocation"]["artifactLocation"]
        note = location.get("message", {}).get("text")
        found[result["ruleId"]] = (
            unquote(artifact["uri"]),
            artifact.get("uriBaseId"),
            location["physicalLocation"]["region"]["startLine"],
            note,
        )
    return found


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    configuration(tmp_path / "repo" / "infra" / "shop")
    return tmp_path / "repo"


def test_configuration_findings_are_located_at_their_file_and_line_relative_to_the_repository(repository: Path) -> None:
    root = repository / "infra" / "shop"
    log = to_sarif_log(report_of(root))

    assert located(log) == {
        "source.committed-secrets": ("infra/shop/env/secret.tfvars", REPO_BASE_ID, 3, None),
        "source.state-locking": ("infra/shop/backend.tf", REPO_BASE_ID, 2, None),
        "source.provider-credentials": ("infra/shop/main.tf", REPO_BASE_ID, 7, None),
        "source.unwired-variables": ("infra/shop/main.tf", REPO_BASE_ID, 3, None),
        "source.required-versions": ("infra/shop/backend.tf", REPO_BASE_ID, 1, None),
        "source.committed-keys": ("infra/shop/keys/deploy.pem", REPO_BASE_ID, 2, None),
    }
    for uri, _, line, _ in located(log).values():
        assert (repository / uri).read_text().splitlines()[line - 1].strip(), f"{uri}:{line} is an empty line"
    bases = log["runs"][0]["originalUriBaseIds"]
    assert bases[REPO_BASE_ID]["uri"] == repository.resolve().as_uri() + "/"
    assert bases[ROOT_BASE_ID]["uri"] == root.resolve().as_uri() + "/"
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert not list(jsonschema.Draft4Validator(schema).iter_errors(log))


def test_absolute_uris_resolve_to_the_files(repository: Path) -> None:
    root = repository / "infra" / "shop"
    absolute = with_absolute_uris(to_sarif_log(report_of(root)))
    uris = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in absolute["runs"][0]["results"]
    }
    assert Path(unquote(urlparse(uris["source.committed-secrets"]).path)) == (root / "env" / "secret.tfvars").resolve()


def test_outside_a_repository_uris_are_relative_to_the_root_module_and_outside_files_absolute(tmp_path: Path) -> None:
    root = configuration(tmp_path / "shop")
    outside = tmp_path / "elsewhere" / "prod.tfvars"
    outside.parent.mkdir()
    outside.write_text('\napi_token = "abcdef123456"\n')
    where = located(to_sarif_log(report_of(root, var_files=(outside,))))
    assert where["source.state-locking"] == ("backend.tf", ROOT_BASE_ID, 2, None)
    log = to_sarif_log(report_of(root, var_files=(outside,)))
    secrets = [r for r in log["runs"][0]["results"] if r["ruleId"] == "source.committed-secrets"]
    artifacts = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in secrets}
    assert outside.resolve().as_uri() in artifacts
    assert artifacts[outside.resolve().as_uri()]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
