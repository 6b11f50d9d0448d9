"""S3 bucket checks: public access, encryption at rest and in transit, versioning, and the upload path.

Every bucket in the account is inspected, whoever created it, and each property is its own check so
that a report names each defect separately. Bucket policies are evaluated semantically through
`stackprobe.aws.policy` (a Deny that covers only one action or one role does not count as TLS-only).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from stackprobe.aws.policy import PolicyError, Statement, denies_insecure_transport, is_public_grant, parse_policy
from stackprobe.aws.readers.s3 import error_code
from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check

PAB_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
# Services that write logs into a bucket: a bucket granting them PutObject is a log bucket.
LOG_DELIVERY_SERVICES = (
    "logging.s3.amazonaws.com",
    "delivery.logs.amazonaws.com",
    "cloudtrail.amazonaws.com",
    ELB_LOG_DELIVERY_SERVICE,
)
LOG_DELIVERY_GROUP = "http://acs.amazonaws.com/groups/s3/LogDelivery"
# The Elastic Load Balancing account of each region that predates the log-delivery service principal
# (AWS docs, "Enable access logs for your Application Load Balancer"). A bucket policy granting one of
# them PutObject is an ALB/CLB access-log target.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}
REFERENCE = "terraform/modules/storage"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def bucket_arn(ctx: CheckContext, bucket: str) -> str:
    return f"arn:{partition_of(ctx.backend.region)}:s3:::{bucket}"


@dataclass(frozen=True)
class BucketPolicy:
    """A bucket's policy: its statements, or why there are none (no policy, unparseable policy)."""

    statements: tuple[Statement, ...]
    problem: str = ""

    @property
    def present(self) -> bool:
        return not self.problem


def bucket_policy(ctx: CheckContext, bucket: str) -> BucketPolicy:
    text = ctx.account.s3.policy(bucket)
    if text is None:
        return BucketPolicy((), "no bucket policy")
    try:
        return BucketPolicy(tuple(parse_policy(text)))
    except PolicyError as exc:
        return BucketPolicy((), f"bucket policy unreadable: {exc}")


def _pab(config: Mapping[str, Any] | None) -> dict[str, bool]:
    return {name: bool((config or {}).get(name, False)) for name in PAB_SETTINGS}


def _pab_or_none(config: Mapping[str, Any] | None) -> dict[str, bool] | None:
    """The four settings of a public access block; None when there is no block at all."""
    return None if config is None else _pab(config)


def effective_public_access_block(ctx: CheckContext, bucket: str) -> tuple[dict[str, bool], str]:
    """Each setting is on when the bucket or the account turns it on; with a description of both."""
    on_bucket = _pab_or_none(ctx.account.s3.public_access_block(bucket))
    on_account = _pab_or_none(ctx.account.s3.account_public_access_block())
    effective = {
        name: (on_bucket or {}).get(name, False) or (on_account or {}).get(name, False) for name in PAB_SETTINGS
    }

    def show(config: dict[str, bool] | None, where: str) -> str:
        if config is None:
            return f"no {where} public access block"
        off = [name for name, value in config.items() if not value]
        return f"{where}: " + ("all four settings true" if not off else ", ".join(f"{n}=false" for n in off))

    return effective, f"{show(on_bucket, 'bucket')}; {show(on_account, 'account')}"


@check(
    "s3.public-access-block",
    "Every bucket has all four S3 Block Public Access settings on",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("s3",),
    why="Block Public Access is the guard rail that stops one wrong ACL or policy statement from "
    "publishing a bucket; without it a single mistake exposes the data.",
    fix="Add aws_s3_bucket_public_access_block with block_public_acls, ignore_public_acls, "
    "block_public_policy and restrict_public_buckets all true (or set them account-wide).",
    reference=REFERENCE,
    reads=("aws_s3_bucket",),
)
def public_access_block(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for bucket in ctx.account.s3.bucket_names():
        effective, described = effective_public_access_block(ctx, bucket)
        yield ctx.finding(check_, all(effective.values()), bucket, described)


def _receives_alb_logs(statements: tuple[Statement, ...]) -> str | None:
    """Evidence that the policy lets Elastic Load Balancing deliver access logs, or None."""
    elb_accounts = set(ELB_LOG_ACCOUNTS.values())
    for statement in statements:
        if not statement.is_allow or not statement.covers_action("s3:PutObject"):
            continue
        if ELB_LOG_DELIVERY_SERVICE in statement.principal_values("Service"):
            return f"policy statement {statement.label} lets {ELB_LOG_DELIVERY_SERVICE} put objects"
        for principal in statement.principal_values("AWS"):
            parts = principal.split(":")
            account = parts[4] if principal.startswith("arn:") and len(parts) >= 6 else principal
            if account in elb_accounts:
                region = next(r for r, a in ELB_LOG_ACCOUNTS.items() if a == account)
                return f"policy statement {statement.label} lets the ELB log-delivery account of {region} put objects"
    return None


@dataclass(frozen=True)
class KmsKey:
    arn: str
    customer_managed: bool
    note: str = ""


def describe_kms_key(ctx: CheckContext, key_id: str) -> KmsKey | None:
    """The key behind an id, ARN or alias; None when it does not exist in this account."""
    if "alias/aws/" in key_id:
        return KmsKey(key_id, False)
    try:
        meta = ctx.account.kms.key(key_id)
    except ClientError as exc:
        parts = key_id.split(":")
        if key_id.startswith("arn:") and len(parts) > 4 and parts[4] and parts[4] != ctx.backend.account_id:
            # AWS-managed keys cannot be used across accounts, so a key of another account is a
            # customer-managed one; it just cannot be read from here.
            return KmsKey(key_id, True, f"key of account {parts[4]}, not readable here")
        if error_code(exc) in ("NotFoundException", "InvalidArnException"):
            return None
        raise
    return KmsKey(str(meta["Arn"]), meta.get("KeyManager") == "CUSTOMER")


def default_encryption(ctx: CheckContext, bucket: str) -> tuple[str, str | None, bool]:
    """(algorithm, KMS key id, bucket key enabled) of the bucket's default encryption rule.

    Since January 2023 S3 encrypts every new object with SSE-S3 when a bucket has no configuration;
    an emulator answering "not found" therefore means SSE-S3.
    """
    rules = ctx.account.s3.encryption_rules(bucket)
    if rules is None:
        return "AES256", None, False
    rule = rules[0] if rules else {}
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    return str(default.get("SSEAlgorithm", "AES256")), default.get("KMSMasterKeyID"), bool(rule.get("BucketKeyEnabled"))


@check(
    "s3.encryption-kms",
    "Buckets encrypt with SSE-KMS under a customer-managed key, with the S3 bucket key on",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("s3", "kms"),
    why="SSE-S3 lets anyone with s3:GetObject read the data; a customer-managed KMS key adds a second, "
    "auditable permission (kms:Decrypt) and lets you revoke access by disabling the key. The bucket "
    "key cuts the KMS requests (and their cost) by about 99%.",
    fix='aws_s3_bucket_server_side_encryption_configuration with sse_algorithm = "aws:kms", '
    "kms_master_key_id = your key, bucket_key_enabled = true (ALB access-log buckets must stay SSE-S3).",
    reference=REFERENCE,
    reads=("aws_s3_bucket",),
)
def encryption_kms(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for bucket in ctx.account.s3.bucket_names():
        algorithm, key_id, bucket_key = default_encryption(ctx, bucket)
        if algorithm == "AES256":
            alb = _receives_alb_logs(bucket_policy(ctx, bucket).statements)
            if alb:
                # ALB/CLB access-log delivery supports SSE-S3 only: SSE-KMS would silently drop the logs.
                yield ctx.finding(check_, True, bucket, f"SSE-S3 (AES256), as ALB access-log delivery requires: {alb}")
            else:
                yield ctx.finding(check_, False, bucket, "SSE-S3 (AES256): readable by anyone with s3:GetObject")
            continue
        if not algorithm.startswith("aws:kms"):
            yield ctx.finding(check_, False, bucket, f"SSEAlgorithm={algorithm}")
            continue
        if not key_id:
            yield ctx.finding(check_, False, bucket, f"{algorithm} with the AWS-managed key aws/s3 (no KMSMasterKeyID)")
            continue
        key = describe_kms_key(ctx, key_id)
        if key is None:
            yield ctx.finding(check_, False, bucket, f"{algorithm} with KMSMasterKeyID {key_id}, which does not exist")
            continue
        if not key.customer_managed:
            yield ctx.finding(check_, False, bucket, f"{algorithm} with the AWS-managed key {key.arn}", key.arn)
            continue
        described = f"{algorithm} with customer-managed key {key.arn}" + (f" ({key.note})" if key.note else "")
        # DSSE-KMS does not support S3 bucket keys, so the bucket key is required for aws:kms only.
        if algorithm == "aws:kms" and not bucket_key:
            yield ctx.finding(
                check_,
                False,
                bucket,
                f"{described}, BucketKeyEnabled=false (a KMS call per object)",
                severity=Severity.LOW,
            )
            continue
        suffix = ", BucketKeyEnabled=true" if bucket_key else ""
        yield ctx.finding(check_, True, bucket, described + suffix)


@check(
    "s3.versioning",
    "Every bucket has versioning enabled",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("s3",),
    why="Without versioning an overwrite or delete (a bug, a compromised credential, a bad deploy) "
    "destroys the only copy of the object.",
    fix='Add aws_s3_bucket_versioning with status = "Enabled", plus a lifecycle rule expiring '
    "noncurrent versions so old versions do not accumulate cost.",
    reference=REFERENCE,
    reads=("aws_s3_bucket",),
)
def versioning(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for bucket in ctx.account.s3.bucket_names():
        status = ctx.account.s3.versioning(bucket)
        evidence = f"versioning Status={status}" if status else "versioning never enabled"
        yield ctx.finding(check_, status == "Enabled", bucket, evidence)


def _public_acl_grants(ctx: CheckContext, bucket: str) -> list[str]:
    return [
        f"ACL grants {grant.get('Permission')} to {PUBLIC_GROUPS[grant['Grantee']['URI']]}"
        for grant in ctx.account.s3.acl_grants(bucket)
        if grant.get("Grantee", {}).get("URI") in PUBLIC_GROUPS
    ]


@check(
    "s3.no-public-access",
    "No bucket is readable or writable by everyone (ACL or policy)",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    services=("s3",),
    why='A grant to AllUsers, or a policy Allow to principal "*" without a condition pinning the '
    "caller, publishes the bucket to the internet: data leaks, or strangers write into it.",
    fix="Remove public ACL grants (set object ownership to BucketOwnerEnforced) and public policy "
    "statements; serve public content through CloudFront with origin access control instead.",
    reference=REFERENCE,
    reads=("aws_s3_bucket",),
)
def no_public_access(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for bucket in ctx.account.s3.bucket_names():
        acl = _public_acl_grants(ctx, bucket)
        policy = bucket_policy(ctx, bucket)
        statements = [
            f"policy statement {s.label} allows {s.render_actions()} to {s.render_principals()} on "
            f"{s.render_resources()}"
            for s in policy.statements
            if is_public_grant(s)
        ]
        if not acl and not statements:
            yield ctx.finding(check_, True, bucket, "no public ACL grant, no public policy statement")
            continue
        effective, described = effective_public_access_block(ctx, bucket)
        # Block Public Access neutralises what it covers: IgnorePublicAcls voids public ACL grants,
        # RestrictPublicBuckets limits a public policy to AWS services and the owner's account.
        exposed = (bool(acl) and not effective["IgnorePublicAcls"]) or (
            bool(statements) and not effective["RestrictPublicBuckets"]
        )
        evidence = "; ".join(acl + statements)
        if exposed:
            yield ctx.finding(check_, False, bucket, f"{evidence} (public access block: {described})")
        else:
            yield ctx.finding(
                check_,
                False,
                bucket,
                f"{evidence}; neutralised for now by the public access block ({described})",
                severity=Severity.MEDIUM,
            )


@check(
    "s3.tls-only",
    "Every bucket policy denies requests that do not use TLS",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("s3",),
    why="S3 still accepts plain-HTTP requests; only a Deny on aws:SecureTransport=false guarantees "
    "that no client (a misconfigured SDK, a curl in a script) sends data or credentials unencrypted.",
    fix='Add a bucket policy statement: Effect Deny, Principal "*", Action "s3:*", Resource the '
    'bucket ARN and ARN/*, Condition Bool aws:SecureTransport = "false".',
    reference=REFERENCE,
    reads=("aws_s3_bucket",),
)
def tls_only(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for bucket in ctx.account.s3.bucket_names():
        policy = bucket_policy(ctx, bucket)
        if not policy.present:
            yield ctx.finding(check_, False, bucket, policy.problem)
            continue
        assessment = denies_insecure_transport(policy.statements, bucket_arn(ctx, bucket))
        yield ctx.finding(check_, assessment.holds, bucket, assessment.evidence)


def _log_bucket_reason(ctx: CheckContext, bucket: str, targets: dict[str, list[str]]) -> str | None:
    """Why `bucket` is itself a log bucket (which needs no access log of its own), or None."""
    if targets.get(bucket):
        return f"it receives the server access logs of {', '.join(sorted(targets[bucket]))}"
    statements = bucket_policy(ctx, bucket).statements
    alb = _receives_alb_logs(statements)
    if alb:
        return alb
    for statement in statements:
        if statement.is_allow and statement.covers_action("s3:PutObject"):
            services = sorted(set(statement.principal_values("Service")) & set(LOG_DELIVERY_SERVICES))
            if services:
                return f"policy statement {statement.label} lets {', '.join(services)} put objects"
    grants = ctx.account.s3.acl_grants(bucket)
    if any(g.get("Grantee", {}).get("URI") == LOG_DELIVERY_GROUP and g.get("Permission") == "WRITE" for g in grants):
        return "its ACL lets the S3 LogDelivery group write"
    return None


@check(
    "s3.access-logging",
    "Data buckets log every request (server access logging)",
    severity=Severity.LOW,
    category=Category.SECURITY,
    services=("s3",),
    why="Without access logs there is no record of who read, wrote or deleted which object: a leaked "
    "credential or a public grant cannot be scoped after the fact (CloudTrail records object-level calls "
    "only when data events are paid for). Log buckets themselves are exempt: logging one into itself "
    "would loop.",
    fix="Add aws_s3_bucket_logging for each data bucket, targeting a dedicated log bucket whose policy "
    "lets logging.s3.amazonaws.com put objects under the source bucket's prefix.",
    reference=REFERENCE,
    reads=("aws_s3_bucket",),
)
def access_logging(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    buckets = ctx.account.s3.bucket_names()
    logging = {bucket: ctx.account.s3.logging(bucket) for bucket in buckets}
    targets: dict[str, list[str]] = {}
    for bucket, config in logging.items():
        if config.get("TargetBucket"):
            targets.setdefault(str(config["TargetBucket"]), []).append(bucket)
    for bucket in buckets:
        config = logging[bucket]
        if config.get("TargetBucket"):
            destination = f"s3://{config['TargetBucket']}/{config.get('TargetPrefix', '')}"
            yield ctx.finding(check_, True, bucket, f"logs requests to {destination}")
            continue
        reason = _log_bucket_reason(ctx, bucket, targets)
        if reason:
            yield ctx.finding(check_, True, bucket, f"a log bucket ({reason}): exempt")
        else:
            yield ctx.finding(check_, False, bucket, "server access logging off")


@check(
    "s3.presigned-upload",
    "An upload through the app's pre-signed URL lands in the uploads bucket, encrypted with the stack's key",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    fidelity=Fidelity.BEHAVIOUR,
    services=("s3", "kms", "ecs", "elbv2"),
    why="Clients upload straight to S3 with the URL the API signs; if the task's bucket wiring or the "
    "bucket's default encryption is wrong, uploads fail or land unencrypted by the stack's key.",
    fix="Give the API task definition the uploads bucket's name in the variable the app signs URLs for, and "
    "give that bucket default SSE-KMS encryption with the stack's key (sign no SSE headers into the URL).",
    reference=REFERENCE,
    reads=("aws_ecs_service",),
)
def presigned_upload(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    """Not applicable unless the app declares `presigned_upload` in its stackprobe-contract.yaml and its
    container is configured to run locally (see stackprobe.probes.contract and .containers)."""
    # Imported here: the probe pulls in the app launcher, which config-only runs do not need.
    from stackprobe.probes.containers import StandIns
    from stackprobe.probes.contract import contract_for
    from stackprobe.probes.upload import probe_presigned_uploads

    contract = contract_for(ctx).upload
    if contract is None:
        return
    workloads = ctx.account.ecs.workloads()
    stand_ins = StandIns.configured(ctx, workloads)
    stand_ins.require_engine_for([contract.container])
    for outcome in probe_presigned_uploads(ctx, workloads, contract, stand_ins):
        yield ctx.finding(check_, outcome.passed, outcome.resource, outcome.evidence, *outcome.ids)
