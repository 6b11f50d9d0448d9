"""What a configuration names but does not create, found before its first plan, and stood in for it.

A stack written for one account names what already exists there. Read from the configuration as the user
wrote it (the root module and the local modules it calls, through stackprobe.terraform.config), with each
`var.X` resolved as terraform would (a -var, then the var files, `*.auto.tfvars` and `terraform.tfvars`, then
`TF_VAR_X`, then the declared default; in a child module, the calling module's argument) and `local.X`
followed, these are found:

- literal identifiers anywhere: ACM certificate, IAM role, KMS key and alias, Secrets Manager secret and SSM
  parameter ARNs, and AMI ids (`ami-...`: a launch configuration's, a template's, an instance's, a variable's);
- identifiers in the attributes that take them: a role by name (`role` of a policy attachment or an instance
  profile), a hosted zone id (`zone_id` of a record), a KMS key id or alias (`kms_key_id`);
- data sources that look something up: roles, certificates, hosted zones, KMS keys and aliases, secrets,
  parameters, AMIs, VPCs, subnets, security groups and buckets, by id, name or tag filter (a subnet or security
  group looked up in `data.aws_vpc.x.id` is made in that VPC's stand-in).

What the stack itself creates (a resource of the same kind and name in any module) is not stood in: the stack
wins, and a line says so. Each request carries the file and line that named the object, and the emulator
(stackprobe.backends.stand_ins) makes it with exactly that identifier, unless it holds one already (made by a
prerequisites configuration or the pytest_stackprobe_prerequisites hook: those win). What cannot be stood in
is named with the remedy. An expression this reader cannot evaluate (an attribute of a resource, a function
call) names nothing from outside the stack: it is left to terraform.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.stand_ins import NOUNS, Made, Outcome, StandIn, StandInRequest, Status, registered
from stackprobe.settings import StackSpec
from stackprobe.terraform.config import Block, Expression, Template, Value, configuration_files, parse_body, read_blocks

LOG = logging.getLogger("stackprobe.lifecycle")
# An ARN of a kind a stack names from outside itself; no wildcard or interpolation may follow it.
_ARN = re.compile(r"arn:aws[a-z-]*:(acm|iam|kms|secretsmanager|ssm):([a-z0-9-]*):(\d{12}):([\w+=,.@/:-]+)(?![*?$])")
_AMI = re.compile(r"\bami-(?:[0-9a-f]{17}|[0-9a-f]{8})\b(?![*?$-])")
_KEY_ID = re.compile(r"(?:mrk-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}")
_REFERENCE = re.compile(r"^(var|local)\.([A-Za-z_][\w-]*)$")
_INTERPOLATION = re.compile(r"\$\{\s*([^{}]*?)\s*\}")
_VPC_REF = re.compile(r"^(data\.aws_vpc\.[A-Za-z_][\w-]*)\.id$")
_PROVIDER_PAIR = re.compile(r"([A-Za-z_][\w.-]*)\s*=\s*([A-Za-z_][\w.-]*)")
# A secret ARN ends with a hyphen and six random characters that its name does not have.
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
REMEDY = (
    "create it before the plan with a prerequisites configuration (--prerequisites DIR / stackprobe_prerequisites) "
    "or the pytest_stackprobe_prerequisites hook, or give the stack an identifier the emulator holds"
)


def _lines(path: Path) -> list[str]:
    # Read afresh each time, never cached: a live session's configuration is edited between runs.
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


@dataclass(frozen=True)
class _Site:
    """Where a value is written: a file, and the line its block (or assignment) starts on."""

    path: Path
    line: int
    root: Path
    # A block's first line: its labels (`data "aws_security_group" "web" {`) are no value it writes.
    block: bool = False

    @property
    def here(self) -> str:
        return f"{os.path.relpath(self.path, self.root)}:{self.line}"

    def locate(self, literal: str) -> str:
        """The file and line of the first occurrence of `literal` from this site on (the site's own line if none)."""
        lines = _lines(self.path)
        for number in range(max(self.line, 1), len(lines) + 1):
            text = lines[number - 1]
            if number == self.line and self.block:
                text = text.partition("{")[2]
            if literal and literal in text:
                return f"{os.path.relpath(self.path, self.root)}:{number}"
        return self.here


@dataclass(frozen=True)
class Located:
    """A value as terraform would evaluate it, and the file and line that wrote it."""

    value: Any
    where: str


@dataclass
class Discovery:
    """What a configuration names but does not create: requests for the emulator, and lines settled already
    (what the stack creates itself)."""

    requests: list[StandInRequest] = field(default_factory=list)
    settled: list[StandIn] = field(default_factory=list)


@dataclass(frozen=True)
class _Binding:
    """How a variable gets its value: `value` written at `site`, evaluated in `scope` (the calling module, for a
    module argument; None for a literal: a var file's, a default's)."""

    value: Value
    site: _Site | None  # None: a -var or TF_VAR_ value, with no file
    scope: _Scope | None = None
    origin: str = ""  # how a value without a site was given ("-var name", "TF_VAR_name")


@dataclass
class _Scope:
    """One instance of a module: its blocks, its variables' bindings and the regions of its providers."""

    blocks: list[tuple[Path, Block]]
    variables: dict[str, _Binding]
    prefix: str  # "" for the root, "module.edge." for a child
    regions: dict[str, str]  # provider reference ("aws", "aws.use1") -> region
    root: Path
    locals: dict[str, tuple[Value, _Site]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path, block in self.blocks:
            if block.type == "locals":
                for name, value in block.attributes.items():
                    self.locals[name] = (value, _Site(path, block.line or 1, self.root, block=True))

    def site(self, path: Path, block: Block) -> _Site:
        return _Site(path, block.line or 1, self.root, block=True)

    def region_of(self, block: Block) -> str:
        provider = block.attributes.get("provider")
        reference = provider.text if isinstance(provider, Expression) else "aws"
        return self.regions.get(reference, self.regions["aws"])


class _Resolver:
    """Evaluates the part of terraform's language that names things: literals, var.X, local.X, templates."""

    def __init__(self) -> None:
        self._depth = 0

    def resolve(self, value: Value, scope: _Scope, site: _Site) -> Located | None:
        if self._depth > 25:  # values that name each other: terraform reports the cycle
            return None
        self._depth += 1
        try:
            return self._resolve(value, scope, site)
        finally:
            self._depth -= 1

    def _resolve(self, value: Value, scope: _Scope, site: _Site) -> Located | None:
        if isinstance(value, Template):
            return self._template(value, scope, site)
        if isinstance(value, Expression):
            match = _REFERENCE.match(value.text)
            if match is None:
                return None
            if match.group(1) == "var":
                return self.variable(match.group(2), scope)
            found = scope.locals.get(match.group(2))
            return None if found is None else self.resolve(found[0], scope, found[1])
        if isinstance(value, list):
            items = [self.resolve(item, scope, site) for item in value]
            return Located([i.value for i in items if i], site.here) if all(items) else None
        if isinstance(value, dict):
            pairs = {k: self.resolve(v, scope, site) for k, v in value.items()}
            return Located({k: v.value for k, v in pairs.items() if v}, site.here) if all(pairs.values()) else None
        return Located(value, site.locate(value) if isinstance(value, str) else site.here)

    def variable(self, name: str, scope: _Scope) -> Located | None:
        binding = scope.variables.get(name)
        if binding is None:
            return None
        if binding.site is None:
            return Located(binding.value, binding.origin)
        if binding.scope is not None:
            return self.resolve(binding.value, binding.scope, binding.site)
        return self.resolve(binding.value, scope, binding.site)

    def _template(self, template: Template, scope: _Scope, site: _Site) -> Located | None:
        text = template.text[1:-1] if template.text.startswith('"') else template.text
        if "%{" in text:
            return None
        parts: list[str] = []
        at = 0
        for match in _INTERPOLATION.finditer(text):
            found = self.resolve(Expression(match.group(1)), scope, site)
            if found is None or not isinstance(found.value, str | int | float) or isinstance(found.value, bool):
                return None
            parts += [text[at : match.start()], str(found.value)]
            at = match.end()
        return Located("".join([*parts, text[at:]]), site.locate(text.split("${", 1)[0] or text))


# -- scopes: the root module and every instance of a local module it calls ----------------------------


def _blocks(directory: Path) -> list[tuple[Path, Block]]:
    return [(path, block) for path in configuration_files(directory) for block in read_blocks(path)]


def _assignment_line(path: Path, name: str) -> int:
    pattern = re.compile(rf"^\s*\"?{re.escape(name)}\"?\s*[=:]")
    return next((n for n, line in enumerate(_lines(path), 1) if pattern.match(line)), 1)


def _var_files(tf_dir: Path, var_files: Sequence[Path]) -> list[Path]:
    """The files terraform reads variables from, lowest precedence first."""
    automatic = [tf_dir / "terraform.tfvars", *sorted(tf_dir.glob("*.auto.tfvars"))]
    return [p for p in automatic if p.is_file()] + [p for p in var_files if p.is_file()]


def _root_scope(
    tf_dir: Path, var_files: Sequence[Path], variables: Mapping[str, str], environ: Mapping[str, str], region: str
) -> _Scope:
    blocks = _blocks(tf_dir)
    bindings: dict[str, _Binding] = {}
    for path, block in blocks:
        if block.type == "variable" and block.labels and "default" in block.attributes:
            bindings[block.labels[0]] = _Binding(
                block.attributes["default"], _Site(path, block.line or 1, tf_dir, block=True)
            )
    for key, value in environ.items():
        if key.startswith("TF_VAR_"):
            bindings[key.removeprefix("TF_VAR_")] = _Binding(value, None, origin=key)
    for path in _var_files(tf_dir, var_files):
        if path.name.endswith(".json"):
            continue  # a .tfvars.json: rare, and its values carry no line
        for name, assigned in parse_body(path.read_text(encoding="utf-8", errors="replace")).attributes.items():
            bindings[name] = _Binding(assigned, _Site(path, _assignment_line(path, name), tf_dir))
    for name, value in variables.items():
        bindings[name] = _Binding(value, None, origin=f"-var {name}")
    scope = _Scope(blocks, bindings, "", {"aws": region}, tf_dir)
    resolver = _Resolver()
    for path, block in blocks:
        if block.type == "provider" and block.labels and block.labels[0] == "aws":
            alias = block.attributes.get("alias")
            found = resolver.resolve(block.attributes.get("region"), scope, scope.site(path, block))
            if found is not None and isinstance(found.value, str):
                scope.regions["aws" if not isinstance(alias, str) else f"aws.{alias}"] = found.value
    return scope


def _child_regions(parent: _Scope, providers: Value) -> dict[str, str]:
    """The regions of a child module's providers: the default one inherited, aliases as `providers` passes them."""
    regions = {"aws": parent.regions["aws"]}
    if isinstance(providers, dict):
        pairs = [(k, v.text if isinstance(v, Expression) else str(v)) for k, v in providers.items()]
    else:
        # `{ aws.dns = aws.use1 }` is no object literal to the reader: its text is read instead.
        pairs = _PROVIDER_PAIR.findall(providers.text) if isinstance(providers, Expression) else []
    for child, given in pairs:
        regions[child] = parent.regions.get(given, parent.regions["aws"])
    return regions


def _scopes(scope: _Scope, directory: Path, depth: int = 0) -> Iterator[_Scope]:
    """`scope` and every local module instance under it (a module called twice is two scopes)."""
    yield scope
    if depth > 10:  # a module that calls itself: terraform refuses it
        return
    for path, block in scope.blocks:
        source = block.attributes.get("source")
        if block.type != "module" or not block.labels or not isinstance(source, str):
            continue
        if not source.startswith(("./", "../")):
            continue  # a registry or git module is not on disk before init: what it names is its own
        child_dir = (directory / source).resolve()
        blocks = _blocks(child_dir)
        site = scope.site(path, block)
        bindings = {
            b.labels[0]: _Binding(b.attributes["default"], _Site(p, b.line or 1, scope.root, block=True))
            for p, b in blocks
            if b.type == "variable" and b.labels and "default" in b.attributes
        }
        for name, value in block.attributes.items():
            bindings[name] = _Binding(value, site, scope)
        child = _Scope(
            blocks,
            bindings,
            f"{scope.prefix}module.{block.labels[0]}.",
            _child_regions(scope, block.attributes.get("providers")),
            scope.root,
        )
        yield from _scopes(child, child_dir, depth + 1)


# -- what a value names: ARNs and AMI ids ---------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    """Every string in a value, and the text of every expression in it (an ARN may sit inside a jsonencode)."""
    if isinstance(value, Expression):
        yield value.text
    elif isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


@dataclass(frozen=True)
class _Named:
    """An object a value names: what the emulator request needs, before it knows where it was named."""

    kind: str
    label: str
    args: dict[str, Any]
    account: str
    region: str


def _from_arn(arn: str, account: str, region: str) -> _Named | None:
    """The object an ARN names, kept where moto looks it up: an IAM role in the ARN's account (STS assumes it
    there), anything else in the caller's account (moto answers every other call there), in the ARN's region."""
    match = _ARN.fullmatch(arn)
    if match is None:
        return None
    service, arn_region, arn_account, resource = match.groups()
    where = arn_region or region
    if service == "acm" and resource.startswith("certificate/"):
        return _Named("acm_certificate", arn, {"arn": arn}, account, where)
    if service == "iam" and resource.startswith("role/"):
        path, _, name = resource.removeprefix("role").rpartition("/")
        return _Named("iam_role", arn, {"name": name, "path": f"{path}/"}, arn_account, where)
    if service == "kms" and resource.startswith("key/"):
        return _Named("kms_key", arn, {"key_id": resource.removeprefix("key/"), "arn": arn}, account, where)
    if service == "kms" and resource.startswith("alias/") and not resource.startswith("alias/aws/"):
        return _Named("kms_alias", arn, {"alias": resource}, account, where)
    if service == "secretsmanager" and resource.startswith("secret:"):
        name = _SECRET_SUFFIX.sub("", resource.removeprefix("secret:"))
        return _Named("secret", arn, {"name": name, "arn": arn}, account, where)
    if service == "ssm" and resource.startswith("parameter/"):
        rest = resource.removeprefix("parameter/")
        return _Named("ssm_parameter", arn, {"name": f"/{rest}" if "/" in rest else rest}, account, where)
    return None


def _named_in(text: str, account: str, region: str) -> Iterator[_Named]:
    for match in _ARN.finditer(text):
        named = _from_arn(match.group(0), account, region)
        if named is not None:
            yield named
    for match in _AMI.finditer(text):
        yield _Named("ami", match.group(0), {"image_id": match.group(0)}, account, region)


def _kms_reference(text: str, account: str, region: str) -> _Named | None:
    """A KMS key as `kms_key_id` takes it: an ARN, a key id, or an alias (AWS-managed `alias/aws/...` exist)."""
    if text.startswith("arn:"):
        return _from_arn(text, account, region)
    if _KEY_ID.fullmatch(text):
        return _Named("kms_key", text, {"key_id": text}, account, region)
    if text.startswith("alias/") and not text.startswith("alias/aws/"):
        return _Named("kms_alias", text, {"alias": text}, account, region)
    return None


# -- data sources: what each looks up ------------------------------------------------------------------


@dataclass
class _Lookup:
    """A data source (or resource) being read, its attributes evaluated on demand."""

    scope: _Scope
    path: Path
    block: Block
    resolver: _Resolver
    account: str

    @property
    def site(self) -> _Site:
        return self.scope.site(self.path, self.block)

    @property
    def region(self) -> str:
        return self.scope.region_of(self.block)

    def get(self, name: str) -> Located | None:
        if name not in self.block.attributes:
            return None
        return self.resolver.resolve(self.block.attributes[name], self.scope, self.site)

    def text(self, name: str) -> str | None:
        found = self.get(name)
        return found.value if found is not None and isinstance(found.value, str) and found.value else None

    def where(self, name: str) -> str:
        found = self.get(name)
        return found.where if found is not None else self.site.here

    def evaluable(self, *names: str) -> bool:
        """Whether every one of `names` that is written can be evaluated (else the lookup is the stack's own)."""
        return all(name not in self.block.attributes or self.get(name) is not None for name in names)

    def vpc_ref(self, value: Value) -> str | None:
        match = _VPC_REF.match(value.text) if isinstance(value, Expression) else None
        return f"{self.scope.prefix}{match.group(1)}" if match else None

    def filters(self) -> tuple[dict[str, list[str]], str | None] | None:
        """The lookup's filters (`filter` blocks and `tags`) and the data source of the VPC it looks in, or None
        when one cannot be evaluated."""
        found: dict[str, list[str]] = {}
        vpc_ref = None
        for nested in self.block.nested("filter"):
            name = self.resolver.resolve(nested.attributes.get("name"), self.scope, self.site)
            values = nested.attributes.get("values")
            refs = [self.vpc_ref(v) for v in values] if isinstance(values, list) else []
            if name is not None and name.value == "vpc-id" and refs and all(refs):
                vpc_ref = refs[0]
                continue
            resolved = self.resolver.resolve(values, self.scope, self.site)
            if name is None or resolved is None or not isinstance(resolved.value, list):
                return None
            found[str(name.value)] = [str(v) for v in resolved.value]
        tags = self.get("tags")
        if "tags" in self.block.attributes and (tags is None or not isinstance(tags.value, dict)):
            return None
        for key, value in (tags.value if tags is not None else {}).items():
            found[f"tag:{key}"] = [str(value)]
        return found, vpc_ref


def _described(filters: Mapping[str, list[str]], vpc_ref: str | None) -> str:
    parts = [f"{name}={','.join(values)}" for name, values in filters.items()]
    return ", ".join(parts + ([f"in {vpc_ref}"] if vpc_ref else [])) or "any"


def _ec2_lookup(lookup: _Lookup, kind: str, id_argument: str | None, extra: Mapping[str, str]) -> _Named | None:
    """A VPC, subnet or security group data source: by id, or by filters (plus arguments that are filters)."""
    found = lookup.filters()
    argument_ref = lookup.vpc_ref(lookup.block.attributes.get("vpc_id"))
    # `vpc_id = data.aws_vpc.x.id` is evaluable here: it is that data source's stand-in.
    written = [a for a in ([id_argument] if id_argument else []) + list(extra) if not (a == "vpc_id" and argument_ref)]
    if found is None or not lookup.evaluable(*written):
        return None
    filters, vpc_ref = found
    identifier = lookup.text(id_argument) if id_argument else None
    if identifier:
        return _Named(kind, identifier, {f"{kind.split('_')[-1]}_id": identifier}, lookup.account, lookup.region)
    vpc_ref = vpc_ref or argument_ref
    for argument, filter_name in extra.items():
        value = lookup.text(argument)
        if value is not None and not (argument == "vpc_id" and vpc_ref):
            filters[filter_name] = [value]
    if not filters and not vpc_ref:
        return None  # "any one": moto's default VPC and its subnets and groups answer it
    args: dict[str, Any] = {"filters": filters, **({"vpc_ref": vpc_ref} if vpc_ref else {})}
    return _Named(kind, _described(filters, vpc_ref), args, lookup.account, lookup.region)


def _data_vpc(lookup: _Lookup) -> _Named | None:
    default = lookup.get("default")
    if default is not None and default.value is True:
        return _Named("vpc", "the default VPC", {"default": True}, lookup.account, lookup.region)
    return _ec2_lookup(lookup, "vpc", "id", {"cidr_block": "cidr-block", "state": "state"})


def _data_subnets(lookup: _Lookup) -> _Named | None:
    """`aws_subnets`: two subnets in two zones, what a load balancer or a database subnet group needs."""
    named = _ec2_lookup(lookup, "subnet", None, {})
    if named is not None:
        named.args["count"] = 2
    return named


def _data_ami(lookup: _Lookup) -> _Named | None:
    found = lookup.filters()
    owners = lookup.get("owners")
    if found is None or not lookup.evaluable("owners", "name_regex"):
        return None
    filters, _ = found
    pattern = lookup.text("name_regex") or ""
    if not filters and not pattern:
        return None
    label = _described(filters, None) + (f", name_regex={pattern}" if pattern else "")
    args = {"filters": filters, "owners": owners.value if owners else [], "name_regex": pattern}
    return _Named("ami", label, args, lookup.account, lookup.region)


def _data_zone(lookup: _Lookup) -> _Named | None:
    zone_id, name = lookup.text("zone_id"), lookup.text("name")
    if zone_id:
        return _Named("route53_zone", zone_id, {"zone_id": zone_id}, lookup.account, lookup.region)
    private = lookup.get("private_zone")
    args = {"name": (name or "").rstrip("."), "private": bool(private and private.value is True)}
    return _Named("route53_zone", name, args, lookup.account, lookup.region) if name else None


def _by_name(kind: str, argument: str, key: str) -> Callable[[_Lookup], _Named | None]:
    def named(lookup: _Lookup) -> _Named | None:
        value = lookup.text(argument)
        if value is None:
            return None
        if value.startswith("arn:"):
            return _from_arn(value, lookup.account, lookup.region)
        return _Named(kind, value, {key: value}, lookup.account, lookup.region)

    return named


def _data_kms(lookup: _Lookup) -> _Named | None:
    value = lookup.text("key_id") or lookup.text("name")
    return _kms_reference(value, lookup.account, lookup.region) if value else None


DATA_SOURCES: dict[str, Callable[[_Lookup], _Named | None]] = {
    "aws_iam_role": _by_name("iam_role", "name", "name"),
    "aws_acm_certificate": _by_name("acm_certificate", "domain", "domain"),
    "aws_route53_zone": _data_zone,
    "aws_kms_key": _data_kms,
    "aws_kms_alias": _data_kms,
    "aws_secretsmanager_secret": lambda lookup: (
        _by_name("secret", "arn", "name")(lookup) or _by_name("secret", "name", "name")(lookup)
    ),
    "aws_secretsmanager_secret_version": _by_name("secret", "secret_id", "name"),
    "aws_ssm_parameter": _by_name("ssm_parameter", "name", "name"),
    "aws_ami": _data_ami,
    "aws_vpc": _data_vpc,
    "aws_subnet": lambda lookup: _ec2_lookup(
        lookup,
        "subnet",
        "id",
        {"vpc_id": "vpc-id", "cidr_block": "cidr-block", "availability_zone": "availability-zone"},
    ),
    "aws_subnets": _data_subnets,
    "aws_security_group": lambda lookup: _ec2_lookup(
        lookup, "security_group", "id", {"name": "group-name", "vpc_id": "vpc-id"}
    ),
    "aws_s3_bucket": _by_name("s3_bucket", "bucket", "bucket"),
}


# -- the configuration's own objects, which are never stood in ----------------------------------------

# Resource type -> (the kind it creates, the argument that names it).
_OWN: dict[str, tuple[str, str]] = {
    "aws_iam_role": ("iam_role", "name"),
    "aws_route53_zone": ("route53_zone", "name"),
    "aws_kms_alias": ("kms_alias", "name"),
    "aws_secretsmanager_secret": ("secret", "name"),
    "aws_ssm_parameter": ("ssm_parameter", "name"),
    "aws_s3_bucket": ("s3_bucket", "bucket"),
    "aws_security_group": ("security_group", "name"),
    "aws_acm_certificate": ("acm_certificate", "domain_name"),
}
# Resources that name a role or a hosted zone they do not create, by the argument that names it.
_ROLE_ARGUMENTS = {
    "aws_iam_role_policy_attachment": "role",
    "aws_iam_role_policy": "role",
    "aws_iam_instance_profile": "role",
    "aws_iam_policy_attachment": "roles",
}
_ZONE_ARGUMENTS = {
    "aws_route53_record": "zone_id",
    "aws_route53_zone_association": "zone_id",
    "aws_route53_query_log": "zone_id",
    "aws_route53_vpc_association_authorization": "zone_id",
    "aws_route53_hosted_zone_dnssec": "hosted_zone_id",
    "aws_route53_key_signing_key": "hosted_zone_id",
}


# A request's argument that names it as a resource of the stack would (beside the special cases below).
_OWN_KEYS = {
    "kms_alias": "alias",
    "secret": "name",
    "ssm_parameter": "name",
    "s3_bucket": "bucket",
    "acm_certificate": "domain",
}


def _own_key(named: _Named, account: str) -> str | None:
    """What a resource of the stack would have to be called to be this object (None: nothing it could be)."""
    args = named.args
    if named.kind == "iam_role":
        return str(args["name"]) if named.account == account else None
    if named.kind == "route53_zone":
        return None if "zone_id" in args else str(args["name"]).rstrip(".")
    if named.kind == "security_group":
        names = (args.get("filters") or {}).get("group-name") or [None]
        return str(names[0]) if names[0] is not None else None
    if "arn" in args and named.kind in ("secret", "acm_certificate"):
        return None  # an ARN the stack's own object would not have: ACM and Secrets Manager make theirs up
    argument = _OWN_KEYS.get(named.kind)
    return str(args[argument]) if argument and argument in args else None


# The arguments of a data source that name what it looks up: its request is located where they are written.
_IDENTIFYING = ("name", "arn", "id", "zone_id", "key_id", "secret_id", "bucket", "domain")


def _all_attributes(body: Block) -> Iterator[tuple[str, Value]]:
    """A block's attributes, its nested blocks' included (server-side encryption settings are nested)."""
    yield from body.attributes.items()
    for nested in body.blocks:
        yield from _all_attributes(nested)


def _counted_out(lookup: _Lookup) -> bool:
    count = lookup.get("count")
    return count is not None and count.value in (0, False)


class _Collector:
    """Everything one configuration names from outside, as it is read."""

    def __init__(self, account: str, resolver: _Resolver) -> None:
        self.account = account
        self.resolver = resolver
        self.found: dict[tuple[str, str], tuple[_Named, str, str, str]] = {}  # (key, ref) -> named, where, by, ref
        self.own: dict[tuple[str, str], str] = {}  # (kind, name) -> the resource that creates it
        self.own_tags: list[tuple[str, dict[str, str], str]] = []  # (kind, tags, resource) of VPCs and subnets
        self.domains: list[str] = []  # record names and certificate domains: what a stood-in zone must hold

    def add(self, named: _Named, where: str, used_by: str, ref: str = "") -> None:
        key = StandInRequest(named.kind, named.label, where, named.account, named.region, named.args).key()
        self.found.setdefault((key, ref), (named, where, used_by, ref))

    def scan_text(self, value: Any, site: _Site | None, origin: str, used_by: str, region: str) -> None:
        for text in _strings(value):
            for named in _named_in(text, self.account, region):
                self.add(named, site.locate(named.label) if site else origin, used_by)

    def attributes(self, lookup: _Lookup, address: str) -> None:
        """What a block's arguments name: a reference to a variable or local is read where its value is
        written (a var file's line), anything else where the block writes it."""
        for _, value in _all_attributes(lookup.block):
            if isinstance(value, Expression):
                found = self.resolver.resolve(value, lookup.scope, lookup.site)
                if found is not None and isinstance(found.value, str):
                    for named in _named_in(found.value, self.account, lookup.region):
                        self.add(named, found.where, address)
            self.scan_text(value, lookup.site, "", address, lookup.region)

    def resource(self, lookup: _Lookup, address: str) -> None:
        block, site = lookup.block, lookup.site
        self.attributes(lookup, address)
        kind_argument = _OWN.get(block.labels[0])
        if kind_argument is not None and (name := lookup.text(kind_argument[1])):
            self.own.setdefault((kind_argument[0], name.rstrip(".")), f"{address} ({site.here})")
        tags = lookup.get("tags")
        if block.labels[0] in ("aws_vpc", "aws_subnet") and tags is not None and isinstance(tags.value, dict):
            self.own_tags.append((block.labels[0].removeprefix("aws_"), tags.value, f"{address} ({site.here})"))
        if block.labels[0] == "aws_route53_record" and (name := lookup.text("name")):
            self.domains.append(name)
        if block.labels[0] == "aws_acm_certificate" and (name := lookup.text("domain_name")):
            self.domains.append(name)
        self._arguments(lookup, address)

    def _arguments(self, lookup: _Lookup, address: str) -> None:
        """Roles, zones and keys a resource names by the arguments that take them."""
        resource_type = lookup.block.labels[0]
        role_argument, zone_argument = _ROLE_ARGUMENTS.get(resource_type), _ZONE_ARGUMENTS.get(resource_type)
        if role_argument and (found := lookup.get(role_argument)) is not None:
            names = found.value if isinstance(found.value, list) else [found.value]
            for name in (n for n in names if isinstance(n, str) and n and not n.startswith("arn:")):
                self.add(_Named("iam_role", name, {"name": name}, self.account, lookup.region), found.where, address)
        if zone_argument and (zone_id := lookup.text(zone_argument)):
            zone = _Named("route53_zone", zone_id, {"zone_id": zone_id}, self.account, lookup.region)
            self.add(zone, lookup.where(zone_argument), address)
        for name, value in _all_attributes(lookup.block):
            if "kms" not in name:
                continue
            found = self.resolver.resolve(value, lookup.scope, lookup.site)
            if found is None or not isinstance(found.value, str):
                continue
            named = _kms_reference(found.value, self.account, lookup.region)
            if named is not None:
                self.add(named, found.where, address)

    def data(self, lookup: _Lookup, address: str) -> None:
        self.attributes(lookup, address)
        rule = DATA_SOURCES.get(lookup.block.labels[0])
        named = rule(lookup) if rule is not None else None
        if named is not None:
            written = [n for n in _IDENTIFYING if n in lookup.block.attributes]
            self.add(named, lookup.where(written[0]) if written else lookup.site.here, address, ref=address)

    def variables(self, scope: _Scope) -> None:
        """Literal values the variables of `scope` take (a var file's, a -var's, a default), where written."""
        for name, binding in scope.variables.items():
            if binding.scope is None:  # a module argument is read where the calling module writes it
                used_by = f"{scope.prefix}var.{name}"
                self.scan_text(binding.value, binding.site, binding.origin, used_by, scope.regions["aws"])

    def discovery(self) -> Discovery:
        """The requests, in an order the emulator can make them (VPCs before what is looked up in them), and the
        objects the stack creates itself, settled already."""
        found = Discovery()
        zone_name = _zone_name(self.domains)
        for named, where, used_by, ref in self.found.values():
            if named.kind == "route53_zone" and "zone_id" in named.args:
                named.args.setdefault("name", zone_name)
            creator = self._creator(named)
            if creator is not None:
                found.settled.append(
                    StandIn(NOUNS[named.kind], named.label, where, Outcome.OWN, f"{creator} creates it", used_by)
                )
                continue
            found.requests.append(
                StandInRequest(named.kind, named.label, where, named.account, named.region, named.args, ref, used_by)
            )
        found.requests.sort(key=lambda request: request.kind != "vpc")
        return found

    def _creator(self, named: _Named) -> str | None:
        key = _own_key(named, self.account)
        if key is not None and (named.kind, key.rstrip(".")) in self.own:
            return self.own[(named.kind, key.rstrip("."))]
        filters = named.args.get("filters") or {}
        wanted = {k.removeprefix("tag:"): v[0] for k, v in filters.items() if k.startswith("tag:") and v}
        if not wanted or len(wanted) != len(filters) or named.kind not in ("vpc", "subnet"):
            return None
        return next(
            (who for kind, tags, who in self.own_tags if kind == named.kind and wanted.items() <= tags.items()), None
        )


def _zone_name(domains: Sequence[str]) -> str:
    """A name for a hosted zone known only by its id: the domain the stack's records and certificates share.

    moto takes a record into a zone only when the record's name ends with the zone's, so the zone is named
    after the last two labels the stack's names have in common most often (`example.com` for
    `api.stackprobe.example.com`)."""
    suffixes = [".".join(d.rstrip(".").split(".")[-2:]) for d in domains if d.count(".") >= 1 and "*" not in d[1:]]
    return max(set(suffixes), key=suffixes.count) if suffixes else "example.com"


def discover(
    tf_dir: Path,
    var_files: Sequence[Path],
    variables: Mapping[str, str],
    *,
    account: str,
    region: str,
    environ: Mapping[str, str] | None = None,
) -> Discovery:
    """What the configuration at `tf_dir`, given these var files and -var values, names but does not create."""
    resolver = _Resolver()
    collector = _Collector(account, resolver)
    root = _root_scope(tf_dir, var_files, variables, os.environ if environ is None else environ, region)
    for scope in _scopes(root, tf_dir):
        for path, block in scope.blocks:
            lookup = _Lookup(scope, path, block, resolver, account)
            if block.type in ("resource", "data") and len(block.labels) == 2 and not _counted_out(lookup):
                address = f"{scope.prefix}{'data.' if block.type == 'data' else ''}{block.labels[0]}.{block.labels[1]}"
                (collector.resource if block.type == "resource" else collector.data)(lookup, address)
            elif block.type in ("module", "locals"):
                where = f"{scope.prefix}{'module.' + block.labels[0] if block.labels else 'locals'}"
                collector.scan_text(list(block.attributes.values()), lookup.site, "", where, lookup.region)
        collector.variables(scope)
    return collector.discovery()


# -- standing in --------------------------------------------------------------------------------------


def _line(made: Made) -> StandIn:
    """The report's line for one of the emulator's answers."""
    request = made.request
    if made.status in (Status.CREATED, Status.STANDING):
        outcome, detail = Outcome.STOOD_IN, ""
    elif made.status == Status.EXISTS:
        outcome, detail = Outcome.PRESENT, "the emulator holds it (its own, or a prerequisites configuration's): used"
    else:
        outcome, detail = Outcome.IMPOSSIBLE, f"{made.detail}; remedy: {REMEDY}"
    return StandIn(request.noun, request.label, request.where, outcome, detail, request.used_by)


def stand_in(emulator: object, discovery: Discovery) -> list[StandIn]:
    """Have `emulator` hold what `discovery` found; the report's lines. An emulator that keeps no stand-ins
    (LocalStack) has each one named with the remedy instead."""
    if not discovery.requests:
        return list(discovery.settled)
    create = getattr(emulator, "create_stand_ins", None)
    if create is None:
        why = f"this emulator keeps no stand-ins; remedy: {REMEDY}"
        lines = [StandIn(r.noun, r.label, r.where, Outcome.IMPOSSIBLE, why, r.used_by) for r in discovery.requests]
        return lines + discovery.settled
    made: list[Made] = create(discovery.requests)
    return [_line(m) for m in made] + discovery.settled


def stand_ins_for(
    spec: StackSpec, variables: Mapping[str, str], backend: AwsBackend, emulator: object
) -> list[StandIn]:
    """Find what `spec` (with these -var values) names but does not create, and have `emulator` hold it: the
    lines a report shows, each logged."""
    found = discover(spec.tf_dir, spec.var_files, variables, account=backend.account_id, region=backend.region)
    lines = stand_in(emulator, found)
    for line in lines:
        LOG.info("stand-in: %s", line.render())
    return lines


def named_arns(spec: StackSpec, variables: Mapping[str, str], backend: AwsBackend) -> dict[str, str]:
    """Each ARN the configuration writes but does not create, and the file and line that wrote it: what the
    external-dependency watch may call missing even in the emulator's own account."""
    found = discover(spec.tf_dir, spec.var_files, variables, account=backend.account_id, region=backend.region)
    return {r.label: r.where for r in found.requests if r.label.startswith("arn:")}


def held(endpoint: str) -> list[StandIn]:
    """The stand-ins the emulator at `endpoint` holds (a live session's, made when it started), as report lines."""
    return [_line(made) for made in registered(endpoint)]


def failure_hints(
    spec: StackSpec, variables: Mapping[str, str], backend: AwsBackend, lines: Sequence[StandIn], enabled: bool
) -> list[str]:
    """What a failure report adds about stand-ins: those that could not be made, or, with stand-ins off, what the
    configuration names that they would have made."""
    if enabled:
        missing = [line.render() for line in lines if line.outcome == Outcome.IMPOSSIBLE]
        return ["Not stood in:\n" + "\n".join(f"  {text}" for text in missing)] if missing else []
    found = discover(spec.tf_dir, spec.var_files, variables, account=backend.account_id, region=backend.region)
    if not found.requests:
        return []
    named = "\n".join(f"  {r.noun} {r.label} ({r.where}, {r.used_by})" for r in found.requests)
    return [
        "Stand-ins are off (--no-stand-ins / stackprobe_stand_ins = false); the configuration names these objects "
        f"it does not create:\n{named}\nRemedy: drop --no-stand-ins, or {REMEDY}."
    ]
