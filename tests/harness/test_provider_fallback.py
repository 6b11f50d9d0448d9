"""`--provider-fallback`: a stranger's repository that asks for a provider version the offline mirror lacks is tested
with the newest mirrored version instead, with no edit to the repository, and every report says so in its header.

The three cases seen in real repositories: `version = "~> 3.0"` in required_providers, the same as the deprecated
`version` argument of a provider block, and a committed lock file that selects hashicorp/aws 6.22.1. Without the
option, each fails at init naming the versions the mirror holds and the option; with it, each initialises and plans
against the embedded moto (a few seconds of terraform each). Detection and the reports are also checked without
terraform, on a mirror made of empty directories.
Rerun: .venv/bin/pytest tests/harness/test_provider_fallback.py -q -p no:cacheprovider
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.errors import TerraformFailed
from stackprobe.lifecycle.run import Run
from stackprobe.lifecycle.verify import verify
from stackprobe.report.model import RunOutcome, RunReport
from stackprobe.report.render import render, to_terminal
from stackprobe.settings import SETTINGS, RunSettings, StackSpec
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.fallback import ProviderFallback, fallbacks, pin
from stackprobe.terraform.init_failure import FALLBACK_OPTION, LOCK_FILE, locked_versions, without_providers
from stackprobe.terraform.mirror import ProviderSource, resolve_provider_source
from stackprobe.terraform.runner import TerraformRunner
from stackprobe.terraform.workspace import PINS_NAME, create_workspace

pytestmark = pytest.mark.harness

BACKEND = AwsBackend(name="moto", endpoint="http://127.0.0.1:1", region="eu-west-1", account_id="123456789012")
SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
QUEUE = 'resource "aws_sqs_queue" "jobs" {\n  name = "jobs"\n}\n'
REQUIRED = """terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "%s"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}
"""
PROVIDER_BLOCK_VERSION = """provider "aws" {
  region  = "eu-west-1"
  version = "~> 3.0"
}
"""
# A lock file as a laptop with registry access commits it (one platform's checksum).
LOCK_6 = """# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/aws" {
  version     = "6.22.1"
  constraints = ">= 5.0.0"
  hashes = [
    "h1:Ijt7pOlB7Tr7maGQIqtsLFbl7pSMIj06TVdkoSBcYOw=",
  ]
}
"""
# name -> the files of the user's repository, and what the configuration asks.
CASES = {
    "required_providers": ({"main.tf": REQUIRED % "~> 3.0" + QUEUE}, "~> 3.0"),
    "provider_block_version": ({"main.tf": PROVIDER_BLOCK_VERSION + QUEUE}, "~> 3.0"),
    "lock_file": ({"main.tf": REQUIRED % ">= 5.0" + QUEUE, LOCK_FILE: LOCK_6}, "6.22.1"),
}


@pytest.fixture
def mirror() -> ProviderSource:
    source = resolve_provider_source()
    if source.mirror is None:
        pytest.skip("no filesystem provider mirror on this machine: these tests are about one")
    return source


@pytest.fixture
def newest(mirror: ProviderSource) -> str:
    versions = list(mirror.versions("hashicorp/aws"))
    assert versions, f"the mirror {mirror.mirror} holds no hashicorp/aws"
    return versions[-1]


def _repository(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _contents(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (hidden ones too), by relative path."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A user's repository of one case, and what it asks; the test fails if anything in it changed."""
    files, asked = CASES[request.param]
    source = _repository(tmp_path / "repository", files)
    before = _contents(source)
    yield source, asked
    assert _contents(source) == before, "the user's repository was changed"


def _runner(source: Path, work: Path, mirror: ProviderSource, *, fallback: bool) -> TerraformRunner:
    workspace = create_workspace(source, work, endpoint=BACKEND.endpoint, access_key="test", secret_key="test")
    return TerraformRunner(workspace, find_binary(), BACKEND, mirror, work / "cache", provider_fallback=fallback)


# -- with terraform ------------------------------------------------------------------------------------------


def test_without_the_option_init_fails_naming_the_versions_held_and_the_option(
    case: tuple[Path, str], tmp_path: Path, mirror: ProviderSource, newest: str
) -> None:
    source, asked = case
    runner = _runner(source, tmp_path / "work", mirror, fallback=False)
    with pytest.raises(TerraformFailed) as failure:
        runner.init()

    message = str(failure.value)
    assert f"holds {newest} (" in message, message
    assert asked in message, message
    assert f"Or rerun with {FALLBACK_OPTION} to test with hashicorp/aws {newest} instead" in message, message
    assert runner.fallbacks == []
    assert not (runner.workspace.module_dir / PINS_NAME).exists()


def test_with_the_option_the_copy_is_pinned_and_planned(
    case: tuple[Path, str], tmp_path: Path, mirror: ProviderSource, newest: str
) -> None:
    source, asked = case
    run = Run(RunSettings(provider_fallback=True), tmp_path / "run")
    try:
        prepared = run.prepared(StackSpec(tf_dir=source))
        plan = prepared.own_plan()
        [fallback] = prepared.provider_fallbacks()
        runner = prepared.runner()
    finally:
        run.close()

    assert [change.address for change in plan.changes()] == ["aws_sqs_queue.jobs"]
    assert fallback.describe() == f"tested with hashicorp/aws {newest}; the configuration asks {asked}"
    assert runner.fallbacks == [fallback]
    [note] = [n for n in runner.init_notes if n.startswith("--provider-fallback:")]
    assert "your files are unchanged" in note and "fail at plan with terraform's own error" in note
    lock = (runner.workspace.module_dir / LOCK_FILE).read_text()
    assert locked_versions(lock) == {("registry.terraform.io", "hashicorp", "aws"): newest}


def test_every_report_of_a_run_says_it_in_its_header(tmp_path: Path, mirror: ProviderSource, newest: str) -> None:
    """The whole verify (plan, apply, end) of the committed-lock-file case, with nothing to create or check."""
    source = _repository(tmp_path / "repository", {"main.tf": REQUIRED % ">= 5.0", LOCK_FILE: LOCK_6})
    before = _contents(source)
    report = verify(StackSpec(tf_dir=source), RunSettings(provider_fallback=True), tmp_path / "run", checks=[])

    assert report.outcome == RunOutcome.COMPLETE, report.errors
    [fallback] = report.provider_fallbacks
    assert fallback.describe() == f"tested with hashicorp/aws {newest}; the configuration asks 6.22.1"
    assert fallback.why[0] == f"the committed {LOCK_FILE} selects 6.22.1"
    assert to_terminal(report).splitlines()[1] == f"Provider fallback (--provider-fallback): {fallback.describe()}"
    assert any(note.startswith("--provider-fallback:") for note in report.notes)
    assert _contents(source) == before, "the user's repository was changed"


# -- without terraform: detection on a mirror of empty directories --------------------------------------------


@pytest.fixture
def fake_mirror(tmp_path: Path) -> ProviderSource:
    for version in ("5.90.0", "5.100.0", "6.0.0-beta1"):
        (tmp_path / "mirror" / "registry.terraform.io" / "hashicorp" / "aws" / version / "linux_amd64").mkdir(
            parents=True
        )
    return ProviderSource(mirror=tmp_path / "mirror", namespaces=("hashicorp",))


@pytest.mark.parametrize(
    ("constraint", "falls_back"),
    [
        ("~> 5.90.0", False),
        ("~> 5.0", False),
        (">= 4.0, < 6.0", False),
        ("= 5.90", False),  # missing numbers are zero: 5.90.0
        ("~> 3.0", True),
        ("~> 6.0", True),  # a prerelease is never selected unless named exactly
        ("~> 5.100.1", True),
        ("> 5.100.0", True),
    ],
)
def test_a_constraint_falls_back_only_when_no_mirrored_version_meets_it(
    tmp_path: Path, fake_mirror: ProviderSource, constraint: str, falls_back: bool
) -> None:
    source = _repository(tmp_path / "repository", {"main.tf": REQUIRED % constraint})
    workspace = create_workspace(source, tmp_path / "work", endpoint=BACKEND.endpoint, access_key="t", secret_key="t")
    expected = ProviderFallback(
        "hashicorp/aws", "5.100.0", constraint, (f'required_providers in the root module: "{constraint}"',)
    )
    assert fallbacks(workspace, fake_mirror) == ([expected] if falls_back else [])


def test_constraints_of_every_module_and_provider_block_count_together_and_each_is_pinned(
    tmp_path: Path, fake_mirror: ProviderSource
) -> None:
    """Each module's constraint is met by some mirrored version, but not all of them by one: terraform needs one
    version for the whole configuration. Every constraint is pinned where it is declared, aliases kept."""
    source = _repository(
        tmp_path / "repository",
        {
            "main.tf": REQUIRED % ">= 5.95"
            + 'provider "aws" {\n  alias   = "east"\n  region  = "us-east-1"\n  version = "~> 5.0"\n}\n'
            + 'module "net" {\n  source = "./modules/net"\n}\n',
            "modules/net/main.tf": 'terraform {\n  required_providers {\n    aws = "< 5.91"\n  }\n}\n',
            LOCK_FILE: LOCK_6.replace("6.22.1", "5.90.0"),
        },
    )
    workspace = create_workspace(source, tmp_path / "work", endpoint=BACKEND.endpoint, access_key="t", secret_key="t")

    [fallback] = pin(workspace, fake_mirror)

    assert (fallback.tested, fallback.asked) == ("5.100.0", ">= 5.95, ~> 5.0, < 5.91")
    assert fallback.why == (
        'required_providers in the root module: ">= 5.95"',
        'provider "aws" block in the root module: "~> 5.0"',
        'required_providers in modules/net: "< 5.91"',
    )
    root_pins = (workspace.module_dir / PINS_NAME).read_text()
    assert 'aws = { source = "hashicorp/aws", version = "5.100.0" }' in root_pins
    assert 'provider "aws" {\n  alias   = "east"\n  version = "5.100.0"\n}' in root_pins
    assert 'version = "5.100.0"' in (workspace.module_dir / "modules" / "net" / PINS_NAME).read_text()
    assert locked_versions((workspace.module_dir / LOCK_FILE).read_text()) == {}, "the selection 5.90.0 stays"
    assert locked_versions((source / LOCK_FILE).read_text()), "the user's lock file was changed"


def test_a_lock_selection_the_mirror_holds_and_the_registry_are_left_alone(
    tmp_path: Path, fake_mirror: ProviderSource
) -> None:
    source = _repository(
        tmp_path / "repository", {"main.tf": REQUIRED % ">= 5.0", LOCK_FILE: LOCK_6.replace("6.22.1", "5.90.0")}
    )
    workspace = create_workspace(source, tmp_path / "work", endpoint=BACKEND.endpoint, access_key="t", secret_key="t")
    assert fallbacks(workspace, fake_mirror) == []
    (source / LOCK_FILE).write_text(LOCK_6)
    assert fallbacks(workspace, ProviderSource(mirror=None)) == [], "the registry may hold any version"
    [fallback] = fallbacks(workspace, fake_mirror)
    assert (fallback.asked, fallback.tested) == ("6.22.1", "5.100.0")


def test_a_constraint_stackprobe_cannot_read_is_left_to_terraform(tmp_path: Path, fake_mirror: ProviderSource) -> None:
    source = _repository(tmp_path / "repository", {"main.tf": REQUIRED % "v3.0"})
    workspace = create_workspace(source, tmp_path / "work", endpoint=BACKEND.endpoint, access_key="t", secret_key="t")
    assert fallbacks(workspace, fake_mirror) == []


def test_only_the_fallen_back_providers_leave_the_lock_file() -> None:
    random = 'provider "registry.terraform.io/hashicorp/random" {\n  version = "3.6.0"\n}\n'
    assert locked_versions(without_providers(LOCK_6 + random, {"hashicorp/aws"})) == {
        ("registry.terraform.io", "hashicorp", "random"): "3.6.0"
    }


def test_the_error_names_the_option_as_the_settings_declare_it() -> None:
    [setting] = [s for s in SETTINGS if s.name == "provider_fallback"]
    spelled = f"{setting.cli} (pytest: {setting.pytest}; ini {setting.ini} = true)"
    assert spelled == FALLBACK_OPTION


# -- every report format ---------------------------------------------------------------------------------------

FALLBACK = ProviderFallback("hashicorp/aws", "5.100.0", "6.22.1", ("the committed .terraform.lock.hcl selects 6.22.1",))
SUMMARY = "tested with hashicorp/aws 5.100.0; the configuration asks 6.22.1"


@pytest.mark.parametrize("outcome", [RunOutcome.COMPLETE, RunOutcome.NOT_RUN])
def test_every_format_carries_the_fallback_in_its_header(outcome: RunOutcome) -> None:
    """A run that could not plan (a resource the fallback version lacks) says it too: that is when it matters."""
    report = RunReport(title="verify", stack="repository", backend="moto", outcome=outcome)
    report.provider_fallbacks = [FALLBACK]
    if outcome == RunOutcome.NOT_RUN:
        report.errors.append("`terraform plan` failed: Invalid resource type")

    assert render(report, "text").splitlines()[1] == f"Provider fallback (--provider-fallback): {SUMMARY}"
    markdown = render(report, "md").splitlines()
    assert markdown[4] == f"**Provider fallback (--provider-fallback): {SUMMARY}**"
    [entry] = json.loads(render(report, "json"))["provider_fallbacks"]
    assert entry == {
        "source": "hashicorp/aws",
        "tested": "5.100.0",
        "asked": "6.22.1",
        "why": list(FALLBACK.why),
        "summary": SUMMARY,
    }
    suite = ET.fromstring(render(report, "junit"))
    assert suite[0].tag == "properties", "JUnit wants properties before the test cases"
    assert [(p.get("name"), p.get("value")) for p in suite[0]] == [("stackprobe.provider_fallback", SUMMARY)]
    sarif = json.loads(render(report, "sarif"))
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))
    [run] = sarif["runs"]
    assert run["properties"]["providerFallbacks"][0]["summary"] == SUMMARY
    [invocation] = run["invocations"]
    assert invocation["toolExecutionNotifications"][0] == {
        "level": "warning",
        "message": {"text": f"provider fallback: {SUMMARY}"},
    }
    assert invocation["executionSuccessful"] is (outcome == RunOutcome.COMPLETE), "a warning is no failure"


def test_a_report_without_a_fallback_says_nothing_of_it() -> None:
    report = RunReport(title="verify", stack="repository", backend="moto")
    assert "fallback" not in render(report, "text").lower() + render(report, "md").lower()
    assert "<properties" not in render(report, "junit")
    assert json.loads(render(report, "json"))["provider_fallbacks"] == []
