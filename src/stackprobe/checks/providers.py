"""The root module says which Terraform and which AWS provider it was written for.

Without `required_version` and a `required_providers` entry with a version constraint, `terraform init` on a
new machine (a CI runner, a colleague's laptop, next year) takes the newest of both: a major provider
release changes defaults and removes arguments (AWS provider 4 split aws_s3_bucket into eleven resources;
5 removed arguments again), and the same commit plans something else, or nothing at all. Read from the root
module's `terraform` blocks, with file and line.
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.checks.source import configuration_modules
from stackprobe.terraform.config import AWS_SOURCE, Block


def _constraint(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


@check(
    "source.required-versions",
    "The root module pins the Terraform version and the AWS provider's",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    fidelity=Fidelity.SOURCE,
    services=(),
    why="Without required_version and a versioned required_providers entry, every init picks the newest "
    "Terraform and AWS provider: a new major version changes defaults and drops arguments, and the same "
    "commit plans differently (or fails) on the next machine. The lock file pins only what was once "
    "installed, and is often not committed.",
    fix='Add terraform { required_version = ">= 1.6, < 2.0"  required_providers { aws = { source = '
    '"hashicorp/aws", version = "~> 5.0" } } } (in versions.tf), and commit .terraform.lock.hcl.',
    reference="terraform/versions.tf",
)
def required_versions(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    modules = configuration_modules(ctx)
    if not modules or not modules[0].files:
        return
    root = modules[0]
    settings: list[tuple[str, Block]] = [
        (f"{f.name}:{block.line}" if block.line else f.name, block)
        for f in root.files
        for block in f.blocks
        if block.type == "terraform"
    ]
    version = next((v for _, b in settings if (v := _constraint(b.attributes.get("required_version")))), None)
    aws: str | None = None
    aws_named = False
    for _, block in settings:
        for required in block.nested("required_providers"):
            for local, spec in required.attributes.items():
                source = spec.get("source") if isinstance(spec, dict) else None
                if local == "aws" or (isinstance(source, str) and AWS_SOURCE in source.lower()):
                    aws_named = True
                    aws = aws or _constraint(spec.get("version") if isinstance(spec, dict) else spec)
    problems = []
    if version is None:
        problems.append("no required_version")
    if not aws_named:
        problems.append("no required_providers entry for aws")
    elif aws is None:
        problems.append("required_providers names aws without a version constraint")
    if settings:
        # The block that names providers is where a version constraint goes; else the first terraform block.
        chosen = next((where for where, b in settings if b.nested("required_providers")), settings[0][0])
        where, resource = chosen, chosen.split(":")[0]
    else:  # located at the root module's main file, where a reader looks first
        names = [f.name for f in root.files]
        where = resource = "main.tf" if "main.tf" in names else names[0]
    if problems:
        without = "no terraform block" if not settings else "the terraform block has " + ", ".join(problems)
        evidence = f"{where}: {without}: every init takes the newest Terraform and AWS provider"
        yield Finding(check_.id, False, resource, evidence, None)
    else:
        yield Finding(check_.id, True, resource, f"{where}: required_version {version!r}, aws {aws!r}", None)
