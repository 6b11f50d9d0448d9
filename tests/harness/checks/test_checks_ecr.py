"""ECR checks against repositories built in the emulator: one repository per case, checks run once."""

from __future__ import annotations

import json

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Severity, Status
from stackprobe.checks.ecr import immutable_tags, kms_encryption, lifecycle_policy, scan_on_push
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

CHECKS = (immutable_tags, scan_on_push, kms_encryption, lifecycle_policy)
LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
            "action": {"type": "expire"},
        },
    ]
}


@pytest.fixture(scope="module")
def results(stacks: Run) -> dict[str, CheckResult]:
    backend = stacks.reset_emulator()
    ecr = backend.client("ecr")
    key = backend.client("kms").create_key(Description="registry")["KeyMetadata"]["Arn"]
    ecr.create_repository(
        repositoryName="sp-good",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": key},
    )
    ecr.put_lifecycle_policy(repositoryName="sp-good", lifecyclePolicyText=json.dumps(LIFECYCLE))
    ecr.create_repository(repositoryName="sp-defaults")
    ecr.create_repository(
        repositoryName="sp-latest-moves",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )
    ecr.create_repository(repositoryName="sp-scan-by-registry")
    ecr.put_registry_scanning_configuration(
        scanType="ENHANCED",
        rules=[
            {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "sp-scan-*", "filterType": "WILDCARD"}]}
        ],
    )
    context = CheckContext(backend=backend)
    # sp-defaults, created with every default, fails each check; the tests assert each repository's finding.
    found = {
        result.check.id: result
        for result in (
            assert_check(context, immutable_tags, Status.FAIL),
            assert_check(context, scan_on_push, Status.FAIL),
            assert_check(context, kms_encryption, Status.FAIL),
            assert_check(context, lifecycle_policy, Status.FAIL),
        )
    }
    found["key"] = CheckResult(check=kms_encryption, skipped_reason=key)  # the key ARN, for the evidence
    return found


def evidence(results: dict[str, CheckResult], check_id: str) -> dict[str, tuple[bool, str]]:
    result = results[check_id]
    assert not result.error, result.error
    return {f.resource.rsplit("/", 1)[-1]: (f.passed, f.evidence) for f in result.findings}


def test_immutable_tags(results: dict[str, CheckResult]) -> None:
    seen = evidence(results, "ecr.immutable-tags")

    assert seen["sp-good"] == (True, "imageTagMutability=IMMUTABLE")
    assert seen["sp-latest-moves"] == (True, "imageTagMutability=IMMUTABLE_WITH_EXCLUSION (exclusions: latest)")
    assert seen["sp-defaults"] == (False, "imageTagMutability=MUTABLE")
    assert results["ecr.immutable-tags"].worst_severity() == Severity.MEDIUM


def test_scan_on_push_directly_or_by_registry_rule(results: dict[str, CheckResult]) -> None:
    seen = evidence(results, "ecr.scan-on-push")

    assert seen["sp-good"] == (True, "scanOnPush=true")
    assert seen["sp-scan-by-registry"] == (
        True,
        "scanOnPush=false, but covered by the registry ENHANCED scanning rule SCAN_ON_PUSH (filter sp-scan-*)",
    )
    assert seen["sp-defaults"] == (False, "scanOnPush=false, no registry scanning rule")


def test_kms_encryption(results: dict[str, CheckResult]) -> None:
    seen = evidence(results, "ecr.kms-encryption")

    assert seen["sp-good"] == (True, f"encryptionType=KMS, kmsKey={results['key'].skipped_reason}")
    assert seen["sp-defaults"] == (False, "encryptionType=AES256")
    assert results["ecr.kms-encryption"].worst_severity() == Severity.LOW


def test_lifecycle_policy(results: dict[str, CheckResult]) -> None:
    seen = evidence(results, "ecr.lifecycle-policy")

    assert seen["sp-good"] == (True, "lifecycle policy with 2 rule(s), actions expire")
    assert seen["sp-defaults"] == (False, "no lifecycle policy")
    assert results["ecr.lifecycle-policy"].status == Status.FAIL


def test_no_repository_is_not_applicable(clean_backend: AwsBackend) -> None:
    for check in CHECKS:
        assert run_check(check, CheckContext(backend=clean_backend)).status == Status.NOT_APPLICABLE, check.id
