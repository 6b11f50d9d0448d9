"""S3 checks against buckets built directly in the emulator: good, bad, and absent.

Resetting moto costs seconds, so each module fixture builds one account holding every case (one
bucket per case, named after it), runs the checks once, and the tests assert on each bucket's finding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from compute_builders import reference_deployment

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Severity, Status
from stackprobe.checks.s3 import (
    encryption_kms,
    no_public_access,
    presigned_upload,
    public_access_block,
    tls_only,
    versioning,
)
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

APP_DIR = Path(__file__).resolve().parents[3] / "app"
API_COMMANDS = {"api": "python -m modelserve.api --host 127.0.0.1"}
ALL_BLOCKED = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)


def bucket(backend: AwsBackend, name: str) -> str:
    backend.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": backend.region})
    return name


def set_policy(backend: AwsBackend, name: str, *statements: dict[str, Any]) -> None:
    backend.client("s3").put_bucket_policy(
        Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    )


def tls_statement(name: str, **changes: Any) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        **changes,
    }


def kms_encrypt(backend: AwsBackend, name: str, key_id: str | None, bucket_key: bool = True) -> None:
    default: dict[str, str] = {"SSEAlgorithm": "aws:kms"}
    if key_id:
        default["KMSMasterKeyID"] = key_id
    backend.client("s3").put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bucket_key}]
        },
    )


def run(check: Any, backend: AwsBackend, **context: Any) -> CheckResult:
    return run_check(check, CheckContext(backend=backend, **context))


def by_resource(result: CheckResult) -> dict[str, tuple[bool, str]]:
    assert not result.error, result.error
    return {f.resource: (f.passed, f.evidence) for f in result.findings}


def account_block(backend: AwsBackend, config: dict[str, bool]) -> None:
    client = backend.session().client("s3control", endpoint_url=backend.endpoint, region_name=backend.region)
    prefix = f"://{backend.account_id}."
    client.meta.events.register(
        "before-sign.s3-control.*", lambda request, **_: setattr(request, "url", request.url.replace(prefix, "://", 1))
    )
    client.put_public_access_block(AccountId=backend.account_id, PublicAccessBlockConfiguration=config)


def finding(result: CheckResult, resource: str) -> Finding:
    assert not result.error, result.error
    [found] = [f for f in result.findings if f.resource == resource]
    return found


# --- one account, every configuration case -------------------------------------------------------


@pytest.fixture(scope="module")
def config_results(stacks: Run) -> dict[str, CheckResult]:
    """Every configuration case in one account; `KEY` in the results names the stack's key ARN."""
    backend = stacks.reset_emulator()
    s3, kms = backend.client("s3"), backend.client("kms")
    key = kms.create_key(Description="stack")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/sp-stack", TargetKeyId=key)

    # public access block
    s3.put_public_access_block(Bucket=bucket(backend, "sp-pab-good"), PublicAccessBlockConfiguration=ALL_BLOCKED)
    s3.put_public_access_block(
        Bucket=bucket(backend, "sp-pab-partial"),
        PublicAccessBlockConfiguration={**ALL_BLOCKED, "BlockPublicPolicy": False, "RestrictPublicBuckets": False},
    )
    bucket(backend, "sp-pab-none")
    # encryption
    kms_encrypt(backend, bucket(backend, "sp-enc-good"), key)
    kms_encrypt(backend, bucket(backend, "sp-enc-alias"), "alias/sp-stack")
    kms_encrypt(backend, bucket(backend, "sp-enc-aws-key"), None)
    kms_encrypt(backend, bucket(backend, "sp-enc-no-bucket-key"), key, bucket_key=False)
    bucket(backend, "sp-enc-default")
    for name, principal in ALB_PRINCIPALS.items():
        bucket(backend, name)
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        set_policy(
            backend,
            name,
            tls_statement(name),
            {
                "Sid": "AlbLogs",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{name}/alb/AWSLogs/123456789012/*",
            },
        )
    # S3 server access logging is not the ALB exception: its target bucket still needs KMS.
    set_policy(
        backend,
        bucket(backend, "sp-enc-s3-logs"),
        {
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::sp-enc-s3-logs/*",
        },
    )
    # versioning
    s3.put_bucket_versioning(Bucket=bucket(backend, "sp-ver-on"), VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(
        Bucket=bucket(backend, "sp-ver-suspended"), VersioningConfiguration={"Status": "Suspended"}
    )
    # public access
    set_policy(
        backend,
        bucket(backend, "sp-pub-private"),
        tls_statement("sp-pub-private"),
        {
            "Sid": "CloudFront",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::sp-pub-private/*",
            "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}},
        },
    )
    s3.put_bucket_acl(Bucket=bucket(backend, "sp-pub-acl"), ACL="public-read")
    set_policy(backend, bucket(backend, "sp-pub-policy"), public_read("sp-pub-policy"))
    # TLS only
    set_policy(backend, bucket(backend, "sp-tls-good"), tls_statement("sp-tls-good"))
    set_policy(backend, bucket(backend, "sp-tls-allow"), tls_statement("sp-tls-allow", Effect="Allow"))
    set_policy(backend, bucket(backend, "sp-tls-get"), tls_statement("sp-tls-get", Action="s3:GetObject"))

    results = {
        check.id: run(check, backend)
        for check in (public_access_block, encryption_kms, versioning, no_public_access, tls_only)
    }
    # The key's ARN travels as a pseudo-result, so the tests can compare evidence to it.
    results[KEY] = CheckResult(check=encryption_kms, skipped_reason=key)
    return results


KEY = "stack-key"


ALB_PRINCIPALS: dict[str, dict[str, str]] = {
    "sp-enc-alb-service": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
    "sp-enc-alb-arn": {"AWS": "arn:aws:iam::156460612806:root"},
    "sp-enc-alb-account": {"AWS": "127311923021"},
}


def public_read(name: str) -> dict[str, Any]:
    return {
        "Sid": "Public",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }


def evidence(results: dict[str, CheckResult], check_id: str, resource: str) -> tuple[bool, str]:
    found = finding(results[check_id], resource)
    return found.passed, found.evidence


def test_public_access_block(config_results: dict[str, CheckResult]) -> None:
    assert config_results["s3.public-access-block"].status == Status.FAIL
    assert evidence(config_results, "s3.public-access-block", "sp-pab-good") == (
        True,
        "bucket: all four settings true; no account public access block",
    )
    assert evidence(config_results, "s3.public-access-block", "sp-pab-partial") == (
        False,
        "bucket: BlockPublicPolicy=false, RestrictPublicBuckets=false; no account public access block",
    )
    assert evidence(config_results, "s3.public-access-block", "sp-pab-none") == (
        False,
        "no bucket public access block; no account public access block",
    )


def test_kms_with_customer_key_and_bucket_key_passes(config_results: dict[str, CheckResult]) -> None:
    key = config_results[KEY].skipped_reason
    assert evidence(config_results, "s3.encryption-kms", "sp-enc-good") == (
        True,
        f"aws:kms with customer-managed key {key}, BucketKeyEnabled=true",
    )
    # A key given by alias is resolved to the key itself.
    assert evidence(config_results, "s3.encryption-kms", "sp-enc-alias") == (
        True,
        f"aws:kms with customer-managed key {key}, BucketKeyEnabled=true",
    )


def test_encryption_failures_and_their_severity(config_results: dict[str, CheckResult]) -> None:
    result = config_results["s3.encryption-kms"]
    key = config_results[KEY].skipped_reason

    assert result.status == Status.FAIL
    assert evidence(config_results, "s3.encryption-kms", "sp-enc-default") == (
        False,
        "SSE-S3 (AES256): readable by anyone with s3:GetObject",
    )
    assert evidence(config_results, "s3.encryption-kms", "sp-enc-aws-key") == (
        False,
        "aws:kms with the AWS-managed key aws/s3 (no KMSMasterKeyID)",
    )
    assert evidence(config_results, "s3.encryption-kms", "sp-enc-no-bucket-key") == (
        False,
        f"aws:kms with customer-managed key {key}, BucketKeyEnabled=false (a KMS call per object)",
    )
    assert finding(result, "sp-enc-no-bucket-key").severity == Severity.LOW
    assert finding(result, "sp-enc-default").severity is None  # the check's own: medium
    assert result.worst_severity() == Severity.MEDIUM


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("sp-enc-alb-service", "lets logdelivery.elasticloadbalancing.amazonaws.com put objects"),
        ("sp-enc-alb-arn", "lets the ELB log-delivery account of eu-west-1 put objects"),
        ("sp-enc-alb-account", "lets the ELB log-delivery account of us-east-1 put objects"),
    ],
)
def test_alb_log_bucket_may_use_sse_s3(config_results: dict[str, CheckResult], name: str, why: str) -> None:
    assert evidence(config_results, "s3.encryption-kms", name) == (
        True,
        f"SSE-S3 (AES256), as ALB access-log delivery requires: policy statement 'AlbLogs' {why}",
    )


def test_log_bucket_for_other_services_still_needs_kms(config_results: dict[str, CheckResult]) -> None:
    assert evidence(config_results, "s3.encryption-kms", "sp-enc-s3-logs") == (
        False,
        "SSE-S3 (AES256): readable by anyone with s3:GetObject",
    )


def test_versioning(config_results: dict[str, CheckResult]) -> None:
    assert config_results["s3.versioning"].status == Status.FAIL
    assert evidence(config_results, "s3.versioning", "sp-ver-on") == (True, "versioning Status=Enabled")
    assert evidence(config_results, "s3.versioning", "sp-ver-suspended") == (False, "versioning Status=Suspended")
    assert evidence(config_results, "s3.versioning", "sp-pab-none") == (False, "versioning never enabled")


def test_private_buckets_pass_public_ones_fail_critical(config_results: dict[str, CheckResult]) -> None:
    result = config_results["s3.no-public-access"]
    no_block = "(public access block: no bucket public access block; no account public access block)"

    assert evidence(config_results, "s3.no-public-access", "sp-pub-private") == (
        True,
        "no public ACL grant, no public policy statement",
    )
    assert evidence(config_results, "s3.no-public-access", "sp-pub-acl") == (
        False,
        f"ACL grants READ to AllUsers {no_block}",
    )
    assert evidence(config_results, "s3.no-public-access", "sp-pub-policy") == (
        False,
        f"policy statement 'Public' allows s3:GetObject to * on arn:aws:s3:::sp-pub-policy/* {no_block}",
    )
    # A TLS-only Deny to "*" and an ALB log grant are not public grants.
    assert finding(result, "sp-tls-good").passed and finding(result, "sp-enc-alb-service").passed
    assert result.worst_severity() == Severity.CRITICAL


def test_tls_only(config_results: dict[str, CheckResult]) -> None:
    assert config_results["s3.tls-only"].status == Status.FAIL
    assert evidence(config_results, "s3.tls-only", "sp-tls-good") == (
        True,
        "statement 'DenyInsecureTransport' denies s3:* to every principal on arn:aws:s3:::sp-tls-good and "
        "arn:aws:s3:::sp-tls-good/* when aws:SecureTransport=false",
    )
    assert evidence(config_results, "s3.tls-only", "sp-tls-allow") == (
        False,
        "statement 'DenyInsecureTransport' is Allow, not Deny",
    )
    assert evidence(config_results, "s3.tls-only", "sp-tls-get") == (
        False,
        "statement 'DenyInsecureTransport' covers only s3:GetObject, not s3:*",
    )
    assert evidence(config_results, "s3.tls-only", "sp-pab-none") == (False, "no bucket policy")


# --- account-level block, and nothing at all -----------------------------------------------------


def test_account_level_block_protects_and_neutralises(clean_backend: AwsBackend) -> None:
    set_policy(clean_backend, bucket(clean_backend, "sp-pub-blocked"), public_read("sp-pub-blocked"))
    account_block(clean_backend, ALL_BLOCKED)

    pab = run(public_access_block, clean_backend)
    public = run(no_public_access, clean_backend)

    assert pab.status == Status.PASS
    assert finding(pab, "sp-pub-blocked").evidence == "no bucket public access block; account: all four settings true"
    found = finding(public, "sp-pub-blocked")
    assert not found.passed and found.severity == Severity.MEDIUM
    assert found.evidence.endswith(
        "; neutralised for now by the public access block (no bucket public access "
        "block; account: all four settings true)"
    )


def test_no_bucket_is_not_applicable(clean_backend: AwsBackend) -> None:
    for check in (public_access_block, encryption_kms, versioning, no_public_access, tls_only, presigned_upload):
        assert run(check, clean_backend, app_dir=APP_DIR).status == Status.NOT_APPLICABLE, check.id


# --- live: pre-signed upload ---------------------------------------------------------------------


def uploads_cors(backend: AwsBackend, name: str) -> None:
    backend.client("s3").put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [{"AllowedMethods": ["PUT", "POST"], "AllowedOrigins": ["https://app.example.com"]}]
        },
    )


@pytest.fixture(scope="module")
def upload_results(stacks: Run) -> dict[str, Any]:
    """One deployment, probed as it is made right and then broken one way at a time."""
    backend = stacks.reset_emulator()
    resources, _, _ = reference_deployment(backend)
    uploads = resources.uploads_bucket
    s3 = backend.client("s3")
    results: dict[str, Any] = {"uploads": uploads}
    results["no-app"] = run(presigned_upload, backend, app_dir=None)

    uploads_cors(backend, uploads)
    results["no-kms"] = assert_check(
        CheckContext(backend=backend, app_dir=APP_DIR, container_commands=API_COMMANDS), presigned_upload, Status.FAIL
    )

    key = backend.client("kms").create_key(Description="stack")["KeyMetadata"]["Arn"]
    kms_encrypt(backend, uploads, key)
    results["key"] = key
    results["good"] = run(presigned_upload, backend, app_dir=APP_DIR, container_commands=API_COMMANDS)
    listed = s3.list_object_versions(Bucket=uploads)
    results["left-behind"] = [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]

    # The bucket opened to browser uploads becomes another one than the task's UPLOADS_BUCKET.
    s3.delete_bucket_cors(Bucket=uploads)
    uploads_cors(backend, bucket(backend, "sp-test-browser-uploads"))
    results["wrong-bucket"] = assert_check(
        CheckContext(backend=backend, app_dir=APP_DIR, container_commands=API_COMMANDS), presigned_upload, Status.FAIL
    )

    s3.delete_bucket_cors(Bucket="sp-test-browser-uploads")
    uploads_cors(backend, uploads)
    # TLS-only, as the storage module writes it: the compat patch lets moto evaluate that condition.
    set_policy(backend, uploads, tls_statement(uploads))
    results["tls-only"] = run(presigned_upload, backend, app_dir=APP_DIR, container_commands=API_COMMANDS)

    # "Only through our VPC endpoint": moto cannot evaluate StringNotEquals and denies everyone.
    set_policy(backend, uploads, tls_statement(uploads), vpce_only(uploads))
    results["blocked"] = run(presigned_upload, backend, app_dir=APP_DIR, container_commands=API_COMMANDS)
    return results


def vpce_only(name: str) -> dict[str, Any]:
    return {
        "Sid": "OnlyThroughVpce",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}},
    }


def test_presigned_upload_lands_encrypted_with_the_stack_key(upload_results: dict[str, Any]) -> None:
    result, uploads = upload_results["good"], upload_results["uploads"]

    assert result.status == Status.PASS, result.error or [f.evidence for f in result.findings]
    [found] = result.findings
    assert found.resource == uploads
    assert f"GET /upload-url, PUT 200 → s3://{uploads}/uploads/" in found.evidence
    assert f"ServerSideEncryption=aws:kms, SSEKMSKeyId={upload_results['key']}" in found.evidence
    assert "(uploads bucket: the only bucket whose CORS allows PUT; sp-test-api:1 container api" in found.evidence
    # The probe object is removed again: the stack is left as it was found.
    assert upload_results["left-behind"] == []


def test_presigned_upload_without_bucket_kms_fails(upload_results: dict[str, Any]) -> None:
    result = upload_results["no-kms"]

    assert result.status == Status.FAIL
    # moto stores no SSE at all where AWS would apply SSE-S3: either way, not the stack's key.
    assert "ServerSideEncryption=none" in result.findings[0].evidence
    assert (
        "the bucket has no default SSE-KMS key, so uploads are not encrypted with the stack's key"
        in result.findings[0].evidence
    )


def test_presigned_upload_to_the_wrong_bucket_fails(upload_results: dict[str, Any]) -> None:
    result, uploads = upload_results["wrong-bucket"], upload_results["uploads"]

    assert result.status == Status.FAIL
    assert result.findings[0].evidence.startswith(
        f"the API signs uploads for bucket {uploads} (UPLOADS_BUCKET={uploads}), but the uploads bucket is "
        "sp-test-browser-uploads (the only bucket whose CORS allows PUT)"
    )


def test_presigned_upload_needs_the_app(upload_results: dict[str, Any]) -> None:
    assert upload_results["no-app"].status == Status.NOT_APPLICABLE


def test_presigned_upload_to_a_tls_only_bucket(upload_results: dict[str, Any]) -> None:
    assert upload_results["tls-only"].status == Status.PASS, upload_results["tls-only"].error


def test_presigned_upload_refuses_to_judge_what_the_emulator_blocks(upload_results: dict[str, Any]) -> None:
    result, uploads = upload_results["blocked"], upload_results["uploads"]

    # moto applies the VPC-endpoint Deny without its condition: skipped, saying why, never a stack failure.
    assert result.status == Status.SKIPPED
    assert result.skipped_reason.startswith(
        f"not exercisable on this emulator: the emulator refuses every object request to bucket {uploads}"
    )
    assert (
        "'OnlyThroughVpce' (StringNotEquals aws:SourceVpce=vpce-0123456789abcdef0) is applied without its "
        "condition" in result.skipped_reason
    )
