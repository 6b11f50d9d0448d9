"""ecr.no-public-write on repository policies as the state holds them (what was applied)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from plan_builders import context, state, stateful

from stackprobe.checks.base import Status
from stackprobe.checks.ecr import no_public_write
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def policy(name: str, *statements: dict[str, Any]) -> dict[str, Any]:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return stateful("aws_ecr_repository_policy", name, {"repository": name, "policy": document})


def test_principal_star_with_push_or_delete_fails_and_pull_or_pinned_passes() -> None:
    defective = state(
        policy("open", {"Sid": "anyone", "Effect": "Allow", "Principal": "*", "Action": ["ecr:PutImage", *PULL]}),
        policy("wild", {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:*"}),
        policy("pull", {"Effect": "Allow", "Principal": "*", "Action": PULL}),
        policy(
            "org",
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["ecr:PutImage", "ecr:BatchDeleteImage"],
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
            },
        ),
        policy("ci", {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/ci"}, "Action": "ecr:*"}),
    )
    result = assert_check(context(state=defective), no_public_write, Status.FAIL)

    failed = {str(f.address): f.evidence for f in result.findings if not f.passed}
    assert sorted(failed) == ["aws_ecr_repository_policy.open", "aws_ecr_repository_policy.wild"]
    assert failed["aws_ecr_repository_policy.open"] == (
        "open: statement 'anyone' allows ecr:PutImage to *, with no condition pinning the caller: any AWS account "
        "can replace or delete the images the services run"
    )
    assert "allows every action to *" in failed["aws_ecr_repository_policy.wild"]
