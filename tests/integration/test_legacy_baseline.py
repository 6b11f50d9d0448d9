"""Gating a legacy configuration on what a change adds, end to end, as a user runs it.

A copy of tests/corpus/workers-dev (a development stack with a dozen failing checks) is audited three times,
each `stackprobe audit DIR --format json` in a subprocess with its own embedded emulator:
1. `--write-baseline FILE` on the configuration as inherited: every failing finding is recorded, exit 0;
2. one defect planted in a copy (the thumbnails queue loses its dead-letter queue), `--baseline FILE`:
   exit 1, and the only new finding is that defect; what the change removed is listed as no longer occurring;
3. the configuration without the defect (as inherited, in a copy of its own), `--baseline FILE`: exit 0,
   nothing new and nothing listed.
2 and 3 read the same baseline and run at the same time. No second plan and no destroy (`--skip-check
lifecycle.idempotent,lifecycle.clean-teardown`): each audit's emulator goes with its process. About a minute
per audit on two idle cores.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from stackprobe.report.improvements import stable
from stackprobe.testing import in_background

pytestmark = [pytest.mark.corpus, pytest.mark.xdist_group("legacy-baseline")]

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "tests" / "corpus" / "workers-dev"
AUDIT_TIMEOUT = 1500
PLANTED = ('aws_sqs_queue.jobs["thumbnails"]', "queue.dead-letter")


def audit(stack: Path, *arguments: str) -> tuple[int, dict[str, Any], str]:
    command = [sys.executable, "-m", "stackprobe", "audit", str(stack), "--format", "json", "--quiet"]
    # The planted defect is of medium severity; the lifecycle checks would cost a second plan and a destroy.
    command += ["--fail-on", "medium", "--skip-check", "lifecycle.idempotent,lifecycle.clean-teardown", *arguments]
    done = subprocess.run(
        in_background(command), cwd=REPO, capture_output=True, text=True, timeout=AUDIT_TIMEOUT, check=False
    )
    reproduce = " ".join(command).replace(sys.executable, "python")
    try:
        return done.returncode, json.loads(done.stdout), reproduce
    except json.JSONDecodeError:
        pytest.fail(f"no JSON report (exit {done.returncode}): {done.stderr[-3000:]}\nreproduce: {reproduce}")


def failing(report: dict[str, Any], disposition: str) -> list[tuple[str, str]]:
    return sorted(
        # Without an address, the resource with the emulator's ids masked (the default VPC's id changes per run).
        (finding["address"] or stable(finding["resource"]), check["id"])
        for check in report["checks"]
        for finding in check["findings"]
        if finding["disposition"] == disposition
    )


def test_a_baseline_gates_only_the_defect_a_change_adds(tmp_path: Path) -> None:
    stack = tmp_path / "workers-dev"
    shutil.copytree(LEGACY, stack)
    baseline = tmp_path / "stackprobe-baseline.json"

    status, written, reproduce = audit(stack, "--write-baseline", str(baseline))
    assert status == 0, f"{reproduce}\n{failing(written, 'new')}"
    assert failing(written, "new") == [] and len(failing(written, "baselined")) >= 10
    recorded = json.loads(baseline.read_text())
    assert recorded["directory"] == "workers-dev" and "evidence" not in baseline.read_text()
    assert len(recorded["findings"]) == len(set(failing(written, "baselined")))

    # Two checkouts of the same repository: the stack and its baseline file beside it (the file names its
    # directory relative to itself), one with the change, one without.
    planted_stack, restored_stack = tmp_path / "planted" / "workers-dev", tmp_path / "restored" / "workers-dev"
    for checkout in (planted_stack, restored_stack):
        shutil.copytree(stack, checkout)
        shutil.copy2(baseline, checkout.parent / baseline.name)
    variables = planted_stack / "variables.tf"
    inherited = variables.read_text()
    assert inherited.count("dead_letter = true") == 1
    variables.write_text(inherited.replace("dead_letter = true", "dead_letter = false"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        planted_audit = pool.submit(audit, planted_stack, "--baseline", str(planted_stack.parent / baseline.name))
        restored_audit = pool.submit(audit, restored_stack, "--baseline", str(restored_stack.parent / baseline.name))
        (status, planted, reproduce), (restored_status, restored, restored_reproduce) = (
            planted_audit.result(),
            restored_audit.result(),
        )
    assert status == 1, reproduce
    assert failing(planted, "new") == [PLANTED], reproduce
    # The change also removed the thumbnails dead-letter queue: its baseline entries no longer occur.
    assert any('aws_sqs_queue.dlq["thumbnails"]' in entry for entry in planted["baseline"]["no_longer_occur"])

    assert restored_status == 0, f"{restored_reproduce}\n{failing(restored, 'new')}"
    assert failing(restored, "new") == [] and restored["baseline"]["no_longer_occur"] == []
    assert failing(restored, "baselined") == failing(written, "baselined")
