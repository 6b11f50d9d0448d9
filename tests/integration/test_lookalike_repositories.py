"""Two repositories nobody here wrote, run as they are: no file edited, no prerequisites written.

examples/lookalike-alb-lambda and examples/lookalike-ec2-bridge are written in the habits of inherited
stacks, not for stackprobe (issue 24):
- lookalike-alb-lambda (an AWS Academy course project): ECS Fargate behind an ALB whose HTTPS listener names
  a certificate of another account (a variable's default), the lab role taken by name
  (`data "aws_iam_role" "lab"`), a Lambda whose zip lives beside the Terraform directory
  (`${path.root}/../lambda/healthcheck.zip`, read by `filebase64sha256`), `~> 6.0` and a committed lock file
  selecting hashicorp/aws 6.22.1, which the offline mirror does not hold;
- lookalike-ec2-bridge (a 2019-era production stack): ECS on an Auto Scaling group of EC2 container instances
  launched from a literal AMI id, `network_mode = "bridge"` behind an ALB, an RDS instance that refuses to
  be destroyed as written (`skip_final_snapshot = false` with no snapshot name, `deletion_protection = true`
  with no variable to lift it), the provider block's deprecated `version = "~> 3.0"` and an S3 backend.

Each runs once, as a user runs it: `python -m stackprobe verify <copy>/<dir> --provider-fallback --format json`,
from a copy in tmp_path, in a subprocess with its own embedded emulator (niced). The run must apply
completely, list the stand-ins it made with the file and line that named them, name the provider fallback
in the report, destroy leaving nothing behind, and leave every file of the copy byte-identical to the
repository. No second plan (`--skip-check lifecycle.idempotent`): about 1.5 and 3 minutes of the provider's
own waits (a load balancer 60 s, a database about 80 s to create and 70 s to delete).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from example_sessions import REPO, TIMEOUT, user_environment

from stackprobe.testing import in_background

# Their own xdist group: both verifies run one after the other, each with its own emulator, beside the rest.
pytestmark = [pytest.mark.examples, pytest.mark.xdist_group("lookalike-repositories")]

EXAMPLES = REPO / "examples"


@dataclass(frozen=True)
class StandIn:
    """A stand-in the run must make: its kind, the identifier as written, and the file holding it."""

    kind: str  # as the report names it: certificate, role, AMI, ...
    label: str
    file: str

    def where(self, tf_dir: Path) -> str:
        """`file:line` of the first line of the repository's file that writes the identifier."""
        lines = (tf_dir / self.file).read_text().splitlines()
        line = next(number for number, text in enumerate(lines, 1) if self.label in text)
        return f"{self.file}:{line}"


@dataclass(frozen=True)
class Lookalike:
    name: str
    tf_dir: str  # the Terraform directory inside the repository
    asks: str  # what the configuration asks of the provider, as the report names it
    stand_ins: tuple[StandIn, ...]
    # Terraform addresses some check must have judged: proof that they were deployed.
    judged: tuple[str, ...]


LOOKALIKES = [
    Lookalike(
        name="lookalike-alb-lambda",
        tf_dir="terraform",
        asks="6.22.1",
        stand_ins=(
            StandIn(
                "certificate",
                "arn:aws:acm:us-east-1:210987654321:certificate/6f1c2d8e-4b7a-4f3e-9d21-5a8c0e7b9f42",
                "variables.tf",
            ),
            StandIn("role", "LabRole", "data.tf"),
        ),
        judged=("aws_lb_listener.https", "aws_ecs_service.app", "aws_lambda_function.healthcheck"),
    ),
    Lookalike(
        name="lookalike-ec2-bridge",
        tf_dir="infra",
        asks="~> 3.0",
        stand_ins=(StandIn("AMI", "ami-0c55b159cbfafe1f0", "ecs.tf"),),
        judged=("aws_ecs_service.app", "aws_launch_template.ecs", "aws_db_instance.main"),
    ),
]


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under `root`, hidden ones included, by relative path."""
    return {
        str(path.relative_to(root)): None if path.is_dir() else path.read_bytes() for path in sorted(root.rglob("*"))
    }


def checked_addresses(report: dict[str, Any]) -> set[str]:
    return {finding["address"] for check in report["checks"] for finding in check["findings"] if finding["address"]}


@pytest.mark.parametrize("lookalike", LOOKALIKES, ids=[lookalike.name for lookalike in LOOKALIKES])
def test_a_lookalike_repository_runs_as_it_is(tmp_path: Path, lookalike: Lookalike) -> None:
    original = EXAMPLES / lookalike.name
    copy = tmp_path / lookalike.name
    shutil.copytree(original, copy, symlinks=True)
    tf_dir = copy / lookalike.tf_dir
    arguments = ["verify", str(tf_dir), "--provider-fallback", "--format", "json", "--quiet"]
    arguments += ["--skip-check", "lifecycle.idempotent"]
    completed = subprocess.run(
        in_background([sys.executable, "-m", "stackprobe", *arguments]),
        cwd=tmp_path,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    reproduce = (
        f"cp -r examples/{lookalike.name} DIR && stackprobe verify DIR/{lookalike.tf_dir} {' '.join(arguments[2:])}"
    )
    output = f"reproduce: {reproduce}\nexit {completed.returncode}\n{completed.stderr[-4000:]}"
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"no JSON report\n{output}\n{completed.stdout[-2000:]}")

    # Applied completely: every check judged the deployed stack; the inherited stacks' findings fail the run (1).
    assert report["outcome"] == "complete", f"{report['errors']}\n{report['failed_resources']}\n{output}"
    assert report["failed_resources"] == [] and report["errors"] == [], output
    assert completed.returncode == 1, output
    assert [check["id"] for check in report["checks"] if check["status"] == "error"] == [], output
    missing = set(lookalike.judged) - checked_addresses(report)
    assert not missing, f"never judged, so never deployed: {sorted(missing)}\n{output}"

    # The provider the mirror lacks, named in the report's header.
    fallbacks = [pinned["summary"] for pinned in report["provider_fallbacks"]]
    assert fallbacks == [f"tested with hashicorp/aws 5.100.0; the configuration asks {lookalike.asks}"], output

    # The stand-ins it made, each with the file and line that named it (the default VPC and its subnets, which
    # the emulator holds as AWS does, are used as they are).
    made = {
        (stand_in["kind"], stand_in["identifier"], stand_in["where"])
        for stand_in in report["stand_ins"]
        if stand_in["outcome"] == "stood in"
    }
    expected = {(s.kind, s.label, s.where(original / lookalike.tf_dir)) for s in lookalike.stand_ins}
    assert made == expected, json.dumps(report["stand_ins"], indent=2)

    # Destroyed, protections and all: the emulator holds nothing the stack created.
    teardown = next(check for check in report["checks"] if check["id"] == "lifecycle.clean-teardown")
    assert teardown["status"] == "pass", json.dumps(teardown["findings"], indent=2)
    assert "destroy" in report["timings"], report["timings"]

    # Not one file of the repository changed, and nothing was added to it.
    assert tree(copy) == tree(original), f"the run wrote into {copy}"
