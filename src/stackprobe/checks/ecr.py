"""ECR checks: immutable tags, vulnerability scanning, encryption and image lifecycle, per repository; and
repository policies that let everyone push.

Findings name repositories by ARN: the repository name is also the Terraform id of its lifecycle and
repository policies, so only the ARN maps a finding to aws_ecr_repository itself. `ecr.no-public-write`
judges the aws_ecr_repository_policy resources of the Terraform state (the policy as applied) and names
them by address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from stackprobe.aws.policy import PolicyError, is_public_grant, parse_policy, wildcard_match
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Holder, Severity, check

REFERENCE = "terraform/modules/registry"


@check(
    "ecr.immutable-tags",
    "Image tags cannot be overwritten",
    severity=Severity.MEDIUM,
    category=Category.BEST_PRACTICE,
    services=("ecr",),
    why="With mutable tags, pushing `v1.2` again silently changes what every task definition referencing "
    "it runs: deploys stop being reproducible and a compromised CI can replace a running image.",
    fix='Set image_tag_mutability = "IMMUTABLE" and deploy by unique tag (git SHA) or digest.',
    reference=REFERENCE,
    reads=("aws_ecr_repository",),
)
def immutable_tags(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for repo in ctx.account.ecr.repositories():
        mutability = str(repo.get("imageTagMutability", "MUTABLE"))
        exclusions = [f.get("filter", "") for f in repo.get("imageTagMutabilityExclusionFilters") or []]
        # IMMUTABLE_WITH_EXCLUSION keeps release tags immutable and lets named tags (e.g. `latest`) move.
        passed = mutability.startswith("IMMUTABLE")
        evidence = f"imageTagMutability={mutability}"
        if exclusions:
            evidence += f" (exclusions: {', '.join(exclusions)})"
        yield ctx.finding(check_, passed, repo["repositoryArn"], evidence)


def _registry_scan_rule(ctx: CheckContext, repository: str) -> str | None:
    """The registry-level scanning rule that covers `repository` on push (or continuously), or None."""
    config = ctx.account.ecr.registry_scanning()
    if config is None:
        return None
    for rule in config.get("rules", []):
        if rule.get("scanFrequency") not in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN"):
            continue
        for item in rule.get("repositoryFilters", []):
            if item.get("filterType") == "WILDCARD" and wildcard_match(str(item.get("filter", "")), repository):
                return (
                    f"registry {config.get('scanType', '')} scanning rule {rule['scanFrequency']} "
                    f"(filter {item.get('filter')})"
                )
    return None


@check(
    "ecr.scan-on-push",
    "Images are scanned for vulnerabilities when pushed",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("ecr",),
    why="Without scanning, images with known-exploitable CVEs ship to production unnoticed.",
    fix="Set image_scanning_configuration { scan_on_push = true } on the repository, or a registry "
    "scanning rule (enhanced scanning) that covers it.",
    reference=REFERENCE,
    reads=("aws_ecr_repository",),
)
def scan_on_push(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for repo in ctx.account.ecr.repositories():
        name = repo["repositoryName"]
        if (repo.get("imageScanningConfiguration") or {}).get("scanOnPush"):
            yield ctx.finding(check_, True, repo["repositoryArn"], "scanOnPush=true")
            continue
        rule = _registry_scan_rule(ctx, name)
        evidence = (
            f"scanOnPush=false, but covered by the {rule}" if rule else "scanOnPush=false, no registry scanning rule"
        )
        yield ctx.finding(check_, rule is not None, repo["repositoryArn"], evidence)


@check(
    "ecr.kms-encryption",
    "Repositories are encrypted with a KMS key",
    severity=Severity.LOW,
    category=Category.SECURITY,
    services=("ecr",),
    why="AES256 encryption is on by default, but only KMS makes access to image layers auditable in "
    "CloudTrail and revocable by disabling the key.",
    fix='Set encryption_configuration { encryption_type = "KMS", kms_key = <your key> } (set at creation: '
    "changing it replaces the repository).",
    reference=REFERENCE,
    reads=("aws_ecr_repository",),
)
def kms_encryption(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for repo in ctx.account.ecr.repositories():
        config = repo.get("encryptionConfiguration") or {}
        kind = str(config.get("encryptionType", "AES256"))
        evidence = f"encryptionType={kind}" + (f", kmsKey={config['kmsKey']}" if config.get("kmsKey") else "")
        yield ctx.finding(check_, kind.startswith("KMS"), repo["repositoryArn"], evidence)


@check(
    "ecr.lifecycle-policy",
    "Repositories expire old images with a lifecycle policy",
    severity=Severity.LOW,
    category=Category.COST,
    services=("ecr",),
    why="Every CI build pushes an image; without expiry they accumulate storage cost forever and bury "
    "the images that matter.",
    fix="Add aws_ecr_lifecycle_policy expiring untagged images after a few days and keeping the last N release images.",
    reference=REFERENCE,
    reads=("aws_ecr_repository",),
)
def lifecycle_policy(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for repo in ctx.account.ecr.repositories():
        text = ctx.account.ecr.lifecycle_policy(repo["repositoryName"])
        if text is None:
            yield ctx.finding(check_, False, repo["repositoryArn"], "no lifecycle policy")
            continue
        try:
            rules = json.loads(text).get("rules") or []
        except (ValueError, AttributeError):
            rules = []
        actions = sorted({str(rule.get("action", {}).get("type", "?")) for rule in rules})
        evidence = (
            f"lifecycle policy with {len(rules)} rule(s), actions {', '.join(actions)}"
            if rules
            else "lifecycle policy without rules"
        )
        yield ctx.finding(check_, bool(rules), repo["repositoryArn"], evidence)


# Actions that replace or remove what a repository serves: pushing layers and manifests, deleting images,
# the repository itself or its policy.
WRITE_ACTIONS = (
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:BatchDeleteImage",
    "ecr:DeleteRepository",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
)


@check(
    "ecr.no-public-write",
    "No repository policy lets everyone push or delete images",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    services=(),
    why='A repository policy statement with Principal "*" and push or delete actions, and no condition pinning '
    "the caller to an account or organisation, lets any AWS account replace the images the services run: the "
    "next deploy or task restart runs the attacker's code with the task role.",
    fix='Name the principals that push (the CI role\'s ARN) instead of "*", or pin "*" with a condition '
    "(aws:PrincipalOrgID, aws:PrincipalAccount); grant other accounts pull actions only (ecr:BatchGetImage, "
    "ecr:GetDownloadUrlForLayer).",
    reference=REFERENCE,
    reads=("aws_ecr_repository_policy",),
    holder=Holder.STATE,
)
def no_public_write(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for resource in ctx.state_resources("aws_ecr_repository_policy"):
        repository = str(resource.attributes.get("repository") or resource.address)
        try:
            statements = parse_policy(resource.attributes.get("policy") or "{}")
        except PolicyError as exc:
            yield Finding(
                check_.id, True, resource.address, f"{repository}: unreadable policy ({exc})", resource.address
            )
            continue
        problems = []
        for statement in statements:
            if not is_public_grant(statement):
                continue
            actions = [a for a in WRITE_ACTIONS if statement.covers_action(a)]
            if actions:
                shown = "every action" if statement.covers_all_actions("ecr") else ", ".join(actions)
                problems.append(f"statement {statement.label} allows {shown} to {statement.render_principals()}")
        if problems:
            evidence = (
                f"{repository}: " + "; ".join(problems) + ", with no condition pinning the caller: any AWS account can "
                "replace or delete the images the services run"
            )
        else:
            evidence = f"{repository}: no statement lets everyone push or delete"
        yield Finding(check_.id, not problems, resource.address, evidence, resource.address)
